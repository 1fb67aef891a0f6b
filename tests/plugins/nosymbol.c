/* A shared object that is not a labd plugin: no lab_plugin_entry. */
int not_a_plugin(void);
int not_a_plugin(void) { return 42; }
