// Starts real Apache Kafka brokers (KRaft, combined broker+controller) on loopback for tests, and stops them.
// The jars come from Maven Central through scripts/kafka/fetch.sh into .kafka/lib; Java 17+ and Maven are needed.
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Admin } from '@platformatic/kafka'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const libDir = process.env.SLUICE_KAFKA_LIB ?? join(root, '.kafka/lib')
const fetchScript = join(root, 'scripts/kafka/fetch.sh')
const log4jConfig = join(root, 'scripts/kafka/log4j2.properties')

/** What to tell someone whose machine cannot run the broker. */
export const KAFKA_HOWTO =
  'Kafka tests need Java 17+ and Maven (apt-get install -y openjdk-17-jre-headless maven); ' +
  'run scripts/kafka/fetch.sh to fetch the broker from Maven Central into .kafka/lib'

export interface KafkaCluster {
  /** `127.0.0.1:port` of every broker. */
  readonly brokers: string[]
  /** Stops broker `index` (0-based) with SIGKILL, keeping its data, as a crash would. */
  stopBroker(index: number): Promise<void>
  /** Starts a stopped broker again on the same port and data. */
  startBroker(index: number): Promise<void>
  /** Kills every JVM and removes the temporary directory. */
  stop(): Promise<void>
}

export interface StartKafkaOptions {
  /** Number of brokers, each also a controller. Default 1. */
  brokers?: number
  /** Extra broker settings, for every broker. */
  config?: Record<string, string | number>
  /** How long to wait for the cluster to answer metadata requests. Default 90 s. */
  readyTimeoutMs?: number
}

/**
 * Makes sure the broker's jars are there (fetching them once), or says why it cannot: the reason names what to
 * install. Resolves to undefined when Kafka can be started.
 */
export async function kafkaUnavailable(): Promise<string | undefined> {
  if (spawnSync('java', ['-version']).status !== 0) return `java was not found. ${KAFKA_HOWTO}`
  if (existsSync(join(libDir, '.complete'))) return undefined
  try {
    await promisify(execFile)('bash', [fetchScript], { cwd: root, maxBuffer: 16 * 1024 * 1024 })
  } catch (error) {
    const detail = (error as { stderr?: string }).stderr?.trim() || (error as Error).message
    return `scripts/kafka/fetch.sh failed: ${detail}. ${KAFKA_HOWTO}`
  }
  return undefined
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address !== null ? resolvePort(address.port) : reject(),
      )
    })
  })
}

function brokerProperties(
  nodeId: number,
  port: number,
  controllerPort: number,
  voters: string,
  dataDir: string,
  count: number,
  extra: Record<string, string | number>,
): string {
  const replication = count >= 3 ? 3 : 1
  const settings: Record<string, string | number> = {
    'process.roles': 'broker,controller',
    'node.id': nodeId,
    'controller.quorum.voters': voters,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'log.dirs': dataDir,
    'auto.create.topics.enable': 'false',
    'num.partitions': 1,
    'default.replication.factor': replication,
    'min.insync.replicas': count >= 3 ? 2 : 1,
    'offsets.topic.replication.factor': replication,
    'offsets.topic.num.partitions': 3,
    'transaction.state.log.replication.factor': replication,
    'transaction.state.log.min.isr': count >= 3 ? 2 : 1,
    'transaction.state.log.num.partitions': 3,
    'group.initial.rebalance.delay.ms': 0,
    // Tests wait for timed-out transactions to be aborted: check often.
    'transaction.abort.timed.out.transaction.cleanup.interval.ms': 1000,
    'group.min.session.timeout.ms': 1000,
    // Sluice lets producers set any timestamp >= 0 (replays of old data); Kafka 4 refuses far-off ones by default.
    'log.message.timestamp.before.max.ms': '9223372036854775807',
    'log.message.timestamp.after.max.ms': '9223372036854775807',
    ...extra,
  }
  return `${Object.entries(settings)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`
}

const java = (args: string[]) => [
  '-Xmx512m',
  '-Xms128m',
  `-Dlog4j2.configurationFile=${log4jConfig}`,
  '-cp',
  `${libDir}/*`,
  ...args,
]

async function waitReady(
  brokers: string[],
  expected: number,
  timeoutMs: number,
  procs: () => ChildProcess[],
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  while (Date.now() < deadline) {
    const dead = procs().find((p) => p.exitCode !== null)
    if (dead !== undefined) throw new Error(`a Kafka broker exited with code ${dead.exitCode} while starting`)
    const admin = new Admin({
      clientId: 'sluice-test-ready',
      bootstrapBrokers: brokers,
      retries: 0,
      timeout: 2000,
    })
    try {
      const metadata = await admin.metadata({ topics: [], forceUpdate: true })
      if (metadata.brokers.size >= expected) return
      lastError = new Error(`${metadata.brokers.size} of ${expected} brokers registered`)
    } catch (error) {
      lastError = error
    } finally {
      await admin.close().catch(() => {})
    }
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`Kafka did not become ready in ${timeoutMs} ms: ${(lastError as Error)?.message}`)
}

/** Formats storage and starts `brokers` combined nodes on free loopback ports; resolves once metadata answers. */
export async function startKafka(options: StartKafkaOptions = {}): Promise<KafkaCluster> {
  const count = options.brokers ?? 1
  const unavailable = await kafkaUnavailable()
  if (unavailable !== undefined) throw new Error(unavailable)
  const dir = await mkdtemp(join(tmpdir(), 'sluice-kafka-'))
  const ports = await Promise.all(Array.from({ length: count }, freePort))
  const controllerPorts = await Promise.all(Array.from({ length: count }, freePort))
  const voters = controllerPorts.map((p, i) => `${i + 1}@127.0.0.1:${p}`).join(',')
  const clusterId = randomBytes(16).toString('base64url')
  const configs: string[] = []
  for (let i = 0; i < count; i++) {
    const config = join(dir, `broker-${i + 1}.properties`)
    const props = brokerProperties(
      i + 1,
      ports[i],
      controllerPorts[i],
      voters,
      join(dir, `data-${i + 1}`),
      count,
      {
        ...options.config,
      },
    )
    await writeFile(config, props)
    configs.push(config)
    const format = spawnSync(
      'java',
      java(['kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', config]),
      {
        encoding: 'utf8',
      },
    )
    if (format.status !== 0) {
      await rm(dir, { recursive: true, force: true })
      throw new Error(`formatting Kafka storage failed: ${format.stderr || format.stdout}`)
    }
  }

  const procs: (ChildProcess | undefined)[] = []
  const output: string[] = []
  const killAll = () => {
    for (const p of procs) if (p !== undefined && p.exitCode === null) p.kill('SIGKILL')
  }
  // A test process that dies must not leave JVMs behind.
  process.once('exit', killAll)
  const start = (i: number) => {
    const child = spawn('java', java(['kafka.Kafka', configs[i]]), { stdio: ['ignore', 'ignore', 'pipe'] })
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (chunk: string) => {
      output.push(chunk)
      if (output.length > 200) output.shift()
    })
    procs[i] = child
  }
  const kill = async (i: number) => {
    const child = procs[i]
    procs[i] = undefined
    if (child === undefined || child.exitCode !== null) return
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGKILL')
    await exited
  }
  const brokers = ports.map((p) => `127.0.0.1:${p}`)
  const stop = async () => {
    await Promise.all(procs.map((_, i) => kill(i)))
    process.removeListener('exit', killAll)
    await rm(dir, { recursive: true, force: true })
  }

  for (let i = 0; i < count; i++) start(i)
  try {
    await waitReady(brokers, count, options.readyTimeoutMs ?? 90_000, () =>
      procs.filter((p) => p !== undefined),
    )
  } catch (error) {
    await stop()
    throw new Error(`${(error as Error).message}\n${output.join('').slice(-4000)}`)
  }
  return {
    brokers,
    stop,
    stopBroker: (i) => kill(i),
    startBroker: async (i) => {
      if (procs[i] !== undefined) return
      start(i)
      await waitReady([brokers[i]], 1, options.readyTimeoutMs ?? 90_000, () => [procs[i] as ChildProcess])
    },
  }
}
