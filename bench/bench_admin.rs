//! Small admin helper for the benchmark scripts:
//! `bench_admin BOOTSTRAP create NAME PARTITIONS RF` or `bench_admin BOOTSTRAP high-watermark NAME PARTITION`.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: bench_admin BOOTSTRAP (create NAME PARTITIONS RF | high-watermark NAME PARTITION)";
    anyhow::ensure!(args.len() >= 4, "{usage}");
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &args[1]);
    match (args[2].as_str(), args.len()) {
        ("create", 6) => {
            let admin: AdminClient<DefaultClientContext> = config.create()?;
            let topic = NewTopic::new(&args[3], args[4].parse()?, TopicReplication::Fixed(args[5].parse()?));
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
            for result in runtime.block_on(admin.create_topics(&[topic], &opts))? {
                result.map_err(|(name, code)| anyhow::anyhow!("creating {name}: {code}"))?;
            }
        }
        ("high-watermark", 5) => {
            let consumer: BaseConsumer = config.create()?;
            let (_, high) = consumer.fetch_watermarks(&args[3], args[4].parse()?, Duration::from_secs(10))?;
            println!("{high}");
        }
        _ => anyhow::bail!("{usage}"),
    }
    Ok(())
}
