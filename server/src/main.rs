//! The `warren` binary.

fn main() -> anyhow::Result<()> {
    server::cli::main()
}
