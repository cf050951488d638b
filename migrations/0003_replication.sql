-- Replication health over time, for every monitored cluster: a partition's row whenever its
-- leader, replica count or in-sync count changes (and the first time a sampler sees it after a
-- start), a broker's whenever it goes up or down. Each row holds from its ts_ms until the next
-- row of the same partition or broker, so one row per change stores the same history as one row
-- per tick at a fraction of the writes (10,000 steady partitions write nothing). Retention keeps,
-- per partition and broker, the newest row older than the horizon: the state at its start.

CREATE TABLE partition_replication (
    cluster   TEXT    NOT NULL,
    topic     TEXT    NOT NULL,
    partition INTEGER NOT NULL,
    ts_ms     INTEGER NOT NULL,
    -- -1 when no leader is in service.
    leader    INTEGER NOT NULL,
    replicas  INTEGER NOT NULL CHECK (replicas >= 0),
    isr       INTEGER NOT NULL CHECK (isr >= 0),
    PRIMARY KEY (cluster, topic, partition, ts_ms)
) WITHOUT ROWID;

CREATE TABLE broker_liveness (
    cluster TEXT    NOT NULL,
    broker  INTEGER NOT NULL,
    ts_ms   INTEGER NOT NULL,
    up      INTEGER NOT NULL CHECK (up IN (0, 1)),
    PRIMARY KEY (cluster, broker, ts_ms)
) WITHOUT ROWID;
