// Runs the welcome web server for the tour: reuse a stopped one, else run a new one on a free port.
import { isPortConflict } from '../../lib/errors';
import { browsablePorts, pickFreePort } from '../../lib/ports';
import type { CommandError, ContainerItem, RunRequest } from '../../lib/types';
import { WELCOME_CONTAINER_PORT, WELCOME_IMAGE, WELCOME_NAME } from './steps';

export interface WelcomeApi {
  runContainer(req: RunRequest): Promise<string>;
  containerAction(id: string, action: 'start'): Promise<void>;
}

export function welcomeRequest(hostPort: number, name: string = WELCOME_NAME): RunRequest {
  return {
    image: WELCOME_IMAGE,
    name,
    ports: [{ hostPort, containerPort: WELCOME_CONTAINER_PORT, proto: 'tcp' }],
    env: [],
    volumes: [],
    command: null,
    restartPolicy: 'no',
  };
}

/**
 * Returns the host port the server listens on. A taken host port moves on to the next free one, a taken
 * name (an old welcome container without ports) gets a numbered name; other errors are thrown.
 */
export async function runWelcome(api: WelcomeApi, containers: ContainerItem[], preferred: number, tries = 5): Promise<number> {
  const existing = containers.find((c) => c.name === WELCOME_NAME);
  if (existing && existing.state !== 'running') {
    // A stopped container lists no published ports: the port it had is our best guess until the list refreshes.
    await api.containerAction(existing.id, 'start');
    return browsablePorts(existing.ports)[0] ?? preferred;
  }
  const used = new Set(containers.flatMap((c) => c.ports.map((p) => p.publicPort ?? 0)));
  let port = pickFreePort(used, preferred);
  let name = WELCOME_NAME;
  for (let attempt = 0; ; attempt++) {
    try {
      await api.runContainer(welcomeRequest(port, name));
      return port;
    } catch (err) {
      const e = err as CommandError;
      if (attempt + 1 >= tries) throw e;
      if (isPortConflict(e)) {
        used.add(port);
        port = pickFreePort(used, port + 1);
      } else if (e.kind === 'conflict' && e.field === 'name') {
        name = `${WELCOME_NAME}-${attempt + 2}`;
      } else {
        throw e;
      }
    }
  }
}
