//! The `backstop` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    backstop_cli::main()
}
