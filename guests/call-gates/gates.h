/* call-gates: values gates.S and main.c share. */
#define GS_BASE_MARK 0x12345000
