fn main() -> std::process::ExitCode {
    salle::cli::main()
}
