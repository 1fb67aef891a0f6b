/* lab-plugin-test's own test: the completion promise of lab/plugin.h holds
 * in the fake host (tests/plugins/asynccheck.c, the probe labd is checked
 * with by tests/integration/async-completion.sh, in both work modes), and
 * a plugin needing a newer SDK minor than the fake host implements is
 * refused with a message naming both versions. */
#include <lab/plugin-test.h>

const lab_plugin *lab_plugin_entry(void);

static void probe(int mode)
{
	labt *t = labt_new(lab_plugin_entry());
	int status = 1;
	labt_work_mode(t, mode);
	LABT_CHECK_INT(labt_init(t), 0);
	LABT_CHECK_INT(labt_once(t), 0);
	LABT_CHECK_INT(labt_once_wait(t, 1000, &status), 0);
	LABT_CHECK_INT(status, 0);
	LABT_CHECK_INT(labt_logs(t, LAB_LOG_INFO, "early"), 1);
	LABT_CHECK_INT(labt_logs(t, LAB_LOG_INFO, "callbacks, 0 early"), 1);
	LABT_CHECK_INT(labt_logs(t, LAB_LOG_ERROR, NULL), 0);
	LABT_CHECK_INT(labt_events(t, "asynccheck.ping"), 1);
	LABT_CHECK_INT(labt_stop(t), 0); /* stop and destroy check it too */
	LABT_CHECK_INT(labt_logs(t, LAB_LOG_ERROR, NULL), 0);
	labt_free(t);
}

static void newer_minor(void)
{
	lab_plugin d = *lab_plugin_entry();
	d.abi_minor = LABT_ABI_MINOR + 1;
	labt *t = labt_new(&d);
	LABT_CHECK_INT(labt_init(t), LAB_EABI);
	LABT_CHECK(strstr(labt_error(t), "needs ABI 1.") != NULL);
	LABT_CHECK(strstr(labt_error(t), "lab-plugin-test implements") != NULL);
	labt_free(t);
}

int main(void)
{
	probe(LABT_WORK_INLINE);
	probe(LABT_WORK_THREAD);
	newer_minor();
	printf("ok - lab-plugin-test keeps the completion promise; newer minors refused\n");
	return 0;
}
