/* C entry from head.S: set up exceptions, check the start info, run the test. */
#include "ringside.h"

void idt_init(void);
NORETURN void lib_start(void);

#ifndef GUEST_NAME
#define GUEST_NAME "unnamed"
#endif

NORETURN void lib_start(void)
{
    idt_init();
    fault_reset();

    printk("Ringside guest: %s\n", GUEST_NAME);

    const volatile struct hvm_start_info *si =
        (const volatile struct hvm_start_info *)(uintptr_t)hvm_start_info_pa;
    if (!si)
        test_abort("no hvm_start_info (%%ebx was 0)");
    if (si->magic != HVM_START_MAGIC)
        test_abort("hvm_start_info magic 0x%x, expected 0x%x", si->magic,
                   HVM_START_MAGIC);

    test_main();
    test_finish();
}
