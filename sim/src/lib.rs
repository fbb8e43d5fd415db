//! SmartScale's planning and testing tools, never deployed: the what-if simulator and the cluster
//! emulator, behind the `smartscale` command.

pub mod workload;
