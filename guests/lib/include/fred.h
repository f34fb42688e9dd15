/*
 * FRED instructions as bytes (Intel FRED specification, "ERETS", "ERETU",
 * "LKGS").  GNU binutils 2.40 does not know these mnemonics, so we emit the
 * encodings directly:
 *   ERETU            F3 0F 01 CA
 *   ERETS            F2 0F 01 CA
 *   LKGS r/m16       F2 0F 00 /6   (register form: ModRM = 0xF0 | reg)
 * LKGS with r8w..r15w needs REX.B (0x41) between the F2 prefix and 0F.
 * Unused by the current guests; provided for the FRED tests to come.
 */
#ifndef RINGSIDE_FRED_H
#define RINGSIDE_FRED_H

#ifdef __ASSEMBLER__

.macro ERETU
        .byte 0xf3, 0x0f, 0x01, 0xca
.endm

.macro ERETS
        .byte 0xf2, 0x0f, 0x01, 0xca
.endm

/* LKGS with a 16-bit register operand: `LKGS %di`. */
.macro LKGS reg
        .irp r, ax, cx, dx, bx, sp, bp, si, di
        .ifc \reg, %\r
        .byte 0xf2, 0x0f, 0x00, 0xf0 + _lkgs_regno_\r
        .endif
        .endr
        .irp r, 8, 9, 10, 11, 12, 13, 14, 15
        .ifc \reg, %r\r\()w
        .byte 0xf2, 0x41, 0x0f, 0x00, 0xf0 + (\r - 8)
        .endif
        .endr
.endm
        .set _lkgs_regno_ax, 0
        .set _lkgs_regno_cx, 1
        .set _lkgs_regno_dx, 2
        .set _lkgs_regno_bx, 3
        .set _lkgs_regno_sp, 4
        .set _lkgs_regno_bp, 5
        .set _lkgs_regno_si, 6
        .set _lkgs_regno_di, 7

#else /* C: strings for inline asm */

#define ASM_ERETU ".byte 0xf3, 0x0f, 0x01, 0xca\n\t"
#define ASM_ERETS ".byte 0xf2, 0x0f, 0x01, 0xca\n\t"

#define ASM_LKGS_AX  ".byte 0xf2, 0x0f, 0x00, 0xf0\n\t"
#define ASM_LKGS_CX  ".byte 0xf2, 0x0f, 0x00, 0xf1\n\t"
#define ASM_LKGS_DX  ".byte 0xf2, 0x0f, 0x00, 0xf2\n\t"
#define ASM_LKGS_BX  ".byte 0xf2, 0x0f, 0x00, 0xf3\n\t"
#define ASM_LKGS_SP  ".byte 0xf2, 0x0f, 0x00, 0xf4\n\t"
#define ASM_LKGS_BP  ".byte 0xf2, 0x0f, 0x00, 0xf5\n\t"
#define ASM_LKGS_SI  ".byte 0xf2, 0x0f, 0x00, 0xf6\n\t"
#define ASM_LKGS_DI  ".byte 0xf2, 0x0f, 0x00, 0xf7\n\t"
/* n = 8..15: LKGS %r<n>w */
#define ASM_LKGS_R(n) ".byte 0xf2, 0x41, 0x0f, 0x00, 0xf0 + (" #n " - 8)\n\t"

#endif /* __ASSEMBLER__ */
#endif /* RINGSIDE_FRED_H */
