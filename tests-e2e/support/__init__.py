"""Tools of the end-to-end suite: a fault-injecting TCP proxy and a history checker."""
