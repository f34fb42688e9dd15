/* Shared by main.c and bp.S. */
#ifndef BREAKPOINTS_H
#define BREAKPOINTS_H

#define RFLAGS_TF  0x100
#define DB_LOG_MAX 8            /* #DBs recorded, and the most any case lets the handler take */
#define DB_ENTRY   48           /* struct db_entry: 6 x u64 */

#endif
