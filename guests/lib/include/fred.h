/*
 * FRED instructions as bytes (Intel FRED specification, "ERETS", "ERETU",
 * "LKGS").  GNU binutils 2.40 does not know these mnemonics, so we emit the
 * encodings directly:
 *   ERETU            F3 0F 01 CA
 *   ERETS            F2 0F 01 CA
 *   LKGS r/m16       F2 0F 00 /6   (register form: ModRM = 0xF0 | reg)
 * LKGS with r8w..r15w needs REX.B (0x41) between the F2 prefix and 0F.
 * Used by guests/fred and guests/linux-entry.
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

/* LKGS with a 16-bit register operand: `LKGS %di`, `LKGS %r9w`. */
.macro LKGS reg
        .set _lkgs_done, 0
        .irp r, ax, cx, dx, bx, sp, bp, si, di
        .ifc \reg, %\r
        .byte 0xf2, 0x0f, 0x00, 0xf0 + _lkgs_regno_\r
        .set _lkgs_done, 1
        .endif
        .endr
        .irp r, r8w, r9w, r10w, r11w, r12w, r13w, r14w, r15w
        .ifc \reg, %\r
        .byte 0xf2, 0x41, 0x0f, 0x00, 0xf0 + _lkgs_regno_\r
        .set _lkgs_done, 1
        .endif
        .endr
        .if _lkgs_done == 0
        .error "LKGS: operand must be a 16-bit register (%ax..%di, %r8w..%r15w)"
        .endif
.endm
        .set _lkgs_regno_ax, 0
        .set _lkgs_regno_cx, 1
        .set _lkgs_regno_dx, 2
        .set _lkgs_regno_bx, 3
        .set _lkgs_regno_sp, 4
        .set _lkgs_regno_bp, 5
        .set _lkgs_regno_si, 6
        .set _lkgs_regno_di, 7
        .set _lkgs_regno_r8w, 0
        .set _lkgs_regno_r9w, 1
        .set _lkgs_regno_r10w, 2
        .set _lkgs_regno_r11w, 3
        .set _lkgs_regno_r12w, 4
        .set _lkgs_regno_r13w, 5
        .set _lkgs_regno_r14w, 6
        .set _lkgs_regno_r15w, 7

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
