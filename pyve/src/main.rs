fn main() -> std::process::ExitCode {
    pyve::main()
}
