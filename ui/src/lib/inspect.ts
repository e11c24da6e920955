// A readable summary of the engine's raw container inspect JSON (Docker's ContainerInspect shape).

export interface ContainerSummary {
  id: string;
  name: string;
  image: string;
  imageId: string;
  created: string | null;
  state: string;
  running: boolean;
  exitCode: number | null;
  startedAt: string | null;
  finishedAt: string | null;
  command: string;
  restartPolicy: string;
  networks: { name: string; ip: string }[];
  env: { key: string; value: string }[];
  mounts: { type: string; source: string; destination: string; readOnly: boolean }[];
  ports: { container: string; host: string | null }[];
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const zeroTime = (v: unknown) => {
  const s = str(v);
  return !s || s.startsWith('0001-01-01') ? null : s;
};

export function splitEnv(line: string): { key: string; value: string } {
  const i = line.indexOf('=');
  return i < 0 ? { key: line, value: '' } : { key: line.slice(0, i), value: line.slice(i + 1) };
}

export function summarize(raw: unknown): ContainerSummary {
  const c = obj(raw);
  const config = obj(c.Config);
  const state = obj(c.State);
  const host = obj(c.HostConfig);
  const nets = obj(obj(c.NetworkSettings).Networks);
  const portMap = obj(obj(c.NetworkSettings).Ports);
  const ports: ContainerSummary['ports'] = [];
  for (const [container, bindings] of Object.entries(portMap)) {
    const list = arr(bindings);
    if (list.length === 0) ports.push({ container, host: null });
    for (const b of list) {
      const bb = obj(b);
      const ip = str(bb.HostIp);
      ports.push({ container, host: `${ip && ip !== '0.0.0.0' && ip !== '::' ? ip + ':' : ''}${str(bb.HostPort)}` });
    }
  }
  // IPv4 and IPv6 bindings of the same port read the same once the wildcard address is dropped.
  const seen = new Set<string>();
  const uniquePorts = ports.filter((p) => {
    const k = `${p.container}>${p.host}`;
    return seen.has(k) ? false : (seen.add(k), true);
  });
  const path = str(c.Path);
  const args = arr(c.Args).map(str);
  const restart = obj(host.RestartPolicy);
  return {
    id: str(c.Id),
    name: str(c.Name).replace(/^\//, ''),
    image: str(config.Image),
    imageId: str(c.Image),
    created: zeroTime(c.Created),
    state: str(state.Status),
    running: state.Running === true,
    exitCode: typeof state.ExitCode === 'number' ? state.ExitCode : null,
    startedAt: zeroTime(state.StartedAt),
    finishedAt: zeroTime(state.FinishedAt),
    command: [path, ...args].filter(Boolean).join(' '),
    restartPolicy: str(restart.Name) || 'no',
    networks: Object.entries(nets).map(([name, n]) => ({ name, ip: str(obj(n).IPAddress) })),
    env: arr(config.Env).map((e) => splitEnv(str(e))),
    mounts: arr(c.Mounts).map((m) => {
      const mm = obj(m);
      return { type: str(mm.Type), source: str(mm.Name) || str(mm.Source), destination: str(mm.Destination), readOnly: mm.RW === false };
    }),
    ports: uniquePorts,
  };
}
