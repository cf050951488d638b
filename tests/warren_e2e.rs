//! The `warren` program, built as part of this package so the e2e tests can spawn and kill it.

fn main() -> anyhow::Result<()> {
    server::cli::main()
}
