// The windowed count of bench/kafka-streams.ts as a Kafka Streams application: JSON clicks re-keyed by page
// (through a repartition topic), counted per page in tumbling event-time windows, and each window's final count
// written to the output topic once the window closes; exactly-once (exactly_once_v2), one stream thread.
// Usage: java -cp 'target/classes:target/lib/*' dev.sluice.bench.WindowedCount --brokers H:P --application-id A
//   --input T --output T --window-ms N --grace-ms N --state-dir D [--store memory|rocksdb] [--emit suppress|close]
//   [--config key=value,...]
// Prints "running" once the application is RUNNING; SIGTERM closes it; so does the end of stdin (the parent died).
package dev.sluice.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.EmitStrategy;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindowedKStream;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.state.Stores;
import org.apache.kafka.streams.state.WindowStore;

public final class WindowedCount {
  /** One input record, as the Sluice side reads it too. */
  public record Click(String user, String page, long t) {}

  /** One output record: the final count of a page in a window. */
  public record PageCount(String page, long start, long count) {}

  private static final ObjectMapper JSON = new ObjectMapper();

  /** A JSON serde through Jackson, as Kafka Streams applications commonly write one. */
  static <T> Serde<T> json(Class<T> type) {
    return Serdes.serdeFrom(
        (topic, value) -> {
          try {
            return value == null ? null : JSON.writeValueAsBytes(value);
          } catch (IOException e) {
            throw new IllegalStateException(e);
          }
        },
        (topic, bytes) -> {
          try {
            return bytes == null ? null : JSON.readValue(bytes, type);
          } catch (IOException e) {
            throw new IllegalStateException(e);
          }
        });
  }

  static Topology topology(Map<String, String> a) {
    final Duration size = Duration.ofMillis(Long.parseLong(a.get("window-ms")));
    final Duration grace = Duration.ofMillis(Long.parseLong(a.get("grace-ms")));
    final String store = a.getOrDefault("store", "memory");
    final String emit = a.getOrDefault("emit", "suppress");
    final Serde<Click> clicks = json(Click.class);

    final StreamsBuilder builder = new StreamsBuilder();
    final TimeWindowedKStream<String, Click> windowed = builder
        .stream(a.get("input"), Consumed.with(Serdes.String(), clicks))
        .selectKey((user, click) -> click.page())
        .groupByKey(Grouped.<String, Click>as("by-page").withKeySerde(Serdes.String()).withValueSerde(clicks))
        .windowedBy(TimeWindows.ofSizeAndGrace(size, grace));
    final Materialized<String, Long, WindowStore<Bytes, byte[]>> materialized =
        (store.equals("memory")
                ? Materialized.<String, Long>as(
                    Stores.inMemoryWindowStore("counts", size.plus(grace), size, false))
                : Materialized.<String, Long, WindowStore<Bytes, byte[]>>as("counts"))
            .withKeySerde(Serdes.String())
            .withValueSerde(Serdes.Long());
    final KTable<Windowed<String>, Long> counts = emit.equals("close")
        ? windowed.emitStrategy(EmitStrategy.onWindowClose()).count(materialized)
        : windowed.count(materialized).suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()));
    counts
        .toStream()
        .map((w, n) -> KeyValue.pair(w.key(), new PageCount(w.key(), w.window().start(), n)))
        .to(a.get("output"), Produced.with(Serdes.String(), json(PageCount.class)));
    return builder.build();
  }

  static Map<String, String> parse(String[] args) {
    final Map<String, String> a = new HashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      if (!args[i].startsWith("--")) throw new IllegalArgumentException("expected --name value, got " + args[i]);
      a.put(args[i].substring(2), args[i + 1]);
    }
    for (String required : new String[] {"brokers", "application-id", "input", "output", "window-ms", "grace-ms", "state-dir"}) {
      if (!a.containsKey(required)) throw new IllegalArgumentException("missing --" + required);
    }
    return a;
  }

  public static void main(String[] args) throws Exception {
    final Map<String, String> a = parse(args);
    final Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, a.get("application-id"));
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, a.get("brokers"));
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
    p.put(StreamsConfig.STATE_DIR_CONFIG, a.get("state-dir"));
    // Everything else as shipped (commit.interval.ms 100 under exactly-once, a 10 MB record cache,
    // auto.offset.reset earliest, the broker's default replication factor for internal topics) unless --config
    // k=v,k=v sets it.
    for (String kv : a.getOrDefault("config", "").split(",")) {
      if (kv.isBlank()) continue;
      final int eq = kv.indexOf('=');
      if (eq <= 0) throw new IllegalArgumentException("--config takes key=value pairs, got " + kv);
      p.put(kv.substring(0, eq).trim(), kv.substring(eq + 1).trim());
    }
    final KafkaStreams streams = new KafkaStreams(topology(a), p);
    streams.setStateListener((now, before) -> {
      if (now == KafkaStreams.State.RUNNING) System.out.println("running");
      if (now == KafkaStreams.State.ERROR) {
        System.err.println("Kafka Streams went into ERROR");
        Runtime.getRuntime().halt(1);
      }
    });
    streams.setUncaughtExceptionHandler(e -> {
      e.printStackTrace();
      return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> streams.close(Duration.ofSeconds(10))));
    // Never outlive the benchmark: when its end of our stdin closes, stop.
    final Thread watchdog = new Thread(() -> {
      try {
        while (System.in.read() >= 0) {}
      } catch (IOException ignored) {
      }
      System.exit(0);
    });
    watchdog.setDaemon(true);
    watchdog.start();
    streams.start();
  }
}
