// The fixed code and stack segments the instructions and events that load no descriptor
// install: SYSCALL, SYSRET, SYSENTER, SYSEXIT (SDM Vol. 2B "Operation": "Set rest of CS/SS to a
// fixed value"), FRED delivery from ring 3 and ERETU's standard returns (SDM Vol. 3 §8.3,
// ERETU "Operation"). Base 0, limit FFFFFH with G = 1; what differs (DPL, L, D) per user.

import { DESC_S, DESC_P, DESC_DB, DESC_G, DESC_TYPE_SHIFT } from '../arch/descriptors.js';

/** The low descriptor dword: limit[15:0] = FFFFH, base[15:0] = 0. */
export const FLAT_LO = 0x0000ffff;
const LIMIT_HI = 0xf << 16;
/** CS: type 11 (execute/read, accessed), S, P, G; DPL, L and D per instruction. */
export const CS_FIXED = (0xb << DESC_TYPE_SHIFT) | DESC_S | DESC_P | DESC_G | LIMIT_HI;
/** SS: type 3 (read/write, accessed), S, P, B, G; DPL per instruction. */
export const SS_FIXED = (0x3 << DESC_TYPE_SHIFT) | DESC_S | DESC_P | DESC_DB | DESC_G | LIMIT_HI;
