// Unit test of cxxdemo on lab-plugin-test, in C++ (tests/abi/out-of-tree.sh).
#include <lab/plugin-test.h>

#include <cstdio>

extern "C" const lab_plugin *lab_plugin_entry(void);

int main()
{
	labt *t = labt_new(lab_plugin_entry());
	LABT_CHECK_INT(labt_config(t, "mode = \"other\";"), LAB_ECONFIG); // not allowed
	LABT_CHECK_INT(labt_config(t, "interval = \"2d\";"), LAB_ECONFIG); // above the range
	LABT_CHECK_INT(labt_config(t, "network = \"sepolia\"; interval = \"30s\";"), 0);
	LABT_CHECK_INT(labt_init(t), 0);
	LABT_CHECK(labt_ch_rows(t, "meta_network_name = 'sepolia'", "count()\n42\n") >= 0);
	LABT_CHECK_INT(labt_start(t), 0);
	labt_advance(t, 60000); // two ticks
	LABT_CHECK_STR(labt_storage_get(t, "cxxdemo/sepolia.json", nullptr),
		       "{\"network\":\"sepolia\",\"blocks\":42}");
	LABT_CHECK_STR(labt_state_get(t, "passes"), "2");
	LABT_CHECK_INT(labt_events(t, "cxxdemo.>"), 2);
	LABT_CHECK_INT(labt_logs(t, LAB_LOG_INFO, "cxxdemo ready network=sepolia interval_s=30"), 1);
	labt_free(t);
	std::printf("ok - cxxdemo (C++) on lab-plugin-test\n");
	return 0;
}
