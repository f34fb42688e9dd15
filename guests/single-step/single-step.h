/* Shared by main.c and step.S. */
#ifndef SINGLE_STEP_H
#define SINGLE_STEP_H

#define RFLAGS_TF  0x100
#define DB_LOG_MAX 16           /* traps recorded, and the most any case lets the handler take */

#endif
