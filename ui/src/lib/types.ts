// Types of the desktop command contract (docs/desktop-contract.md). Field names are camelCase as serde sends them.

export type ErrorKind = 'engine' | 'not_found' | 'conflict' | 'invalid' | 'unavailable';

/** What every command rejects with (after normalisation in client.ts). */
export interface CommandError {
  kind: ErrorKind | 'unknown_command';
  message: string;
  field?: string;
}

export type EngineState = 'starting' | 'running' | 'stopped' | 'error';

export interface EngineStatus {
  state: EngineState;
  reason: string | null;
  host: string;
  version: string | null;
  canManage: boolean;
}

export type Proto = 'tcp' | 'udp';

export interface PortItem {
  ip: string | null;
  privatePort: number;
  publicPort: number | null;
  proto: Proto;
}

export interface ContainerItem {
  id: string;
  name: string;
  image: string;
  state: string;
  status: string;
  created: number;
  ports: PortItem[];
  project: string | null;
  labels: Record<string, string>;
}

export type ContainerAction = 'start' | 'stop' | 'restart' | 'pause' | 'unpause' | 'remove';

export interface LogLine {
  stream: 'stdout' | 'stderr';
  text: string;
}

export interface StatsSample {
  cpuPercent: number;
  memUsage: number;
  memLimit: number;
  netRx: number;
  netTx: number;
  time: number;
}

export interface PortBinding {
  hostPort: number | null;
  containerPort: number;
  proto: Proto;
}

export type RestartPolicy = 'no' | 'always' | 'unless-stopped' | 'on-failure';

export interface RunRequest {
  image: string;
  name: string | null;
  ports: PortBinding[];
  env: string[];
  volumes: string[];
  command: string[] | null;
  restartPolicy: RestartPolicy;
}

export interface ImageItem {
  id: string;
  repository: string;
  tag: string;
  size: number;
  created: number;
  inUse: boolean;
}

export interface PullProgress {
  id: string | null;
  status: string;
  current: number | null;
  total: number | null;
}

export interface PruneResult {
  deleted: number;
  spaceReclaimed?: number;
}

export interface VolumeItem {
  name: string;
  driver: string;
  mountpoint: string;
  created: string | number | null;
  inUse: boolean;
  labels: Record<string, string> | null;
}

export interface NetworkItem {
  id: string;
  name: string;
  driver: string;
  subnet: string | null;
  gateway: string | null;
  internal: boolean;
  containers: number;
}

export type Language = 'es' | 'en';
export type Theme = 'light' | 'dark' | 'system';

export interface Settings {
  language: Language | null;
  theme: Theme;
  startAtLogin: boolean;
  onboardingDone: boolean;
}

/** One Docker /events message as the engine sends it. */
export interface EngineEvent {
  Type: string;
  Action: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  time?: number;
}

/** What `reset_engine_data` removed. */
export interface ResetResult {
  containers: number;
  images: number;
  volumes: number;
  networks: number;
}

/** One entry of a container directory (`list_container_dir`). */
export interface FileEntry {
  name: string;
  kind: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  mode: number;
  /** Unix seconds. */
  modified: number;
  linkTarget: string | null;
}

export interface DirListing {
  path: string;
  entries: FileEntry[];
  /** The directory's archive was too large to read whole: some entries may be missing. */
  truncated: boolean;
}

export interface FilePreview {
  path: string;
  size: number;
  /** null for binary content. */
  text: string | null;
  truncated: boolean;
}
