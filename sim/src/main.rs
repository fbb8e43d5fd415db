//! The `smartscale` command-line tool.

fn main() {
    eprintln!("smartscale: no subcommands yet");
    std::process::exit(2);
}
