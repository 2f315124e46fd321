"""Tools for running and testing the bridge on one machine (the Kustomer emulator, `bridge run`); nothing here serves real traffic."""
