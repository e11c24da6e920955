// The beginners' tour, described as data: each step has its texts (locale keys), the equivalent CLI
// command, an optional action, a `done` check over the app state and a `when` condition.
import { browsablePorts } from '../../lib/ports';
import type { ContainerItem, EngineStatus, ImageItem } from '../../lib/types';

export const WELCOME_IMAGE = 'berth/welcome:latest';
export const WELCOME_NAME = 'berth-welcome';
export const WELCOME_CONTAINER_PORT = 80;
/** The image the tour's optional build step makes. */
export const BUILT_IMAGE = 'my-welcome:1';

/** What the steps look at. */
export interface TourState {
  engine: EngineStatus | null;
  images: ImageItem[];
  containers: ContainerItem[];
  /** Host port the welcome server got (or will get). */
  port: number;
  /** The user opened the welcome page in the browser. */
  opened: boolean;
}

export type StepAction = 'startEngine' | 'pullWelcome' | 'runWelcome' | 'openWelcome' | 'buildWelcome';

export interface StepPoint {
  textKey: string;
  cli: string;
}

export interface Step {
  id: string;
  titleKey: string;
  bodyKey: string;
  /** The docker CLI command that does the same (may depend on the state, e.g. the chosen port). */
  cli?: (s: TourState) => string;
  /** Sub-steps, each with its own command (the "what docker run does" walk-through). */
  points?: StepPoint[];
  action?: { kind: StepAction; labelKey: string };
  /** The step's goal is reached (its action turns into a tick). */
  done?: (s: TourState) => boolean;
  /** Next stays disabled until `done` (the user may still skip the whole tour). */
  gate?: boolean;
  /** Shown only when this holds (evaluated when moving between steps). */
  when?: (s: TourState) => boolean;
}

const engineRunning = (s: TourState) => s.engine?.state === 'running';

export const isWelcomeImage = (ref: string) => ref === WELCOME_IMAGE || ref === 'berth/welcome';

export function hasWelcomeImage(s: TourState): boolean {
  return s.images.some((i) => isWelcomeImage(`${i.repository}:${i.tag}`));
}

/** The running welcome container with a published port, if any. */
export function welcomeContainer(s: TourState): ContainerItem | undefined {
  return s.containers.find(
    (c) => (isWelcomeImage(c.image) || c.name === WELCOME_NAME) && c.state === 'running' && browsablePorts(c.ports).length > 0,
  );
}

export function welcomePort(s: TourState): number {
  const c = welcomeContainer(s);
  return c ? browsablePorts(c.ports)[0] : s.port;
}

export const STEPS: Step[] = [
  {
    id: 'intro',
    titleKey: 'onboarding.intro.title',
    bodyKey: 'onboarding.intro.body',
    cli: () => 'docker version',
  },
  {
    id: 'engine',
    titleKey: 'onboarding.engine.title',
    bodyKey: 'onboarding.engine.body',
    cli: () => 'docker info',
    action: { kind: 'startEngine', labelKey: 'onboarding.engine.action' },
    done: engineRunning,
    gate: true,
    when: (s) => !engineRunning(s),
  },
  {
    id: 'image',
    titleKey: 'onboarding.image.title',
    bodyKey: 'onboarding.image.body',
    cli: () => `docker pull ${WELCOME_IMAGE}`,
    action: { kind: 'pullWelcome', labelKey: 'onboarding.image.action' },
    done: hasWelcomeImage,
  },
  {
    id: 'container',
    titleKey: 'onboarding.container.title',
    bodyKey: 'onboarding.container.body',
    cli: () => 'docker ps --all',
  },
  {
    id: 'volume',
    titleKey: 'onboarding.volume.title',
    bodyKey: 'onboarding.volume.body',
    cli: () => 'docker volume create notes\ndocker run -v notes:/data …',
  },
  {
    id: 'network',
    titleKey: 'onboarding.network.title',
    bodyKey: 'onboarding.network.body',
    cli: () => 'docker network ls\ndocker run -p 8080:80 …',
  },
  {
    id: 'run',
    titleKey: 'onboarding.run.title',
    bodyKey: 'onboarding.run.body',
    cli: (s) => `docker run -d -p ${welcomePort(s)}:80 ${WELCOME_IMAGE}`,
    points: [
      { textKey: 'onboarding.run.lookup', cli: `docker image ls ${WELCOME_IMAGE}   # docker pull ${WELCOME_IMAGE}` },
      { textKey: 'onboarding.run.create', cli: `docker create --name ${WELCOME_NAME} ${WELCOME_IMAGE}` },
      { textKey: 'onboarding.run.layer', cli: `docker diff ${WELCOME_NAME}` },
      { textKey: 'onboarding.run.network', cli: `docker network inspect bridge` },
      { textKey: 'onboarding.run.start', cli: `docker start ${WELCOME_NAME}` },
      { textKey: 'onboarding.run.exit', cli: `docker ps --all --filter name=${WELCOME_NAME}` },
    ],
  },
  {
    id: 'welcome',
    titleKey: 'onboarding.welcome.title',
    bodyKey: 'onboarding.welcome.body',
    cli: (s) => `docker run -d --name ${WELCOME_NAME} -p ${welcomePort(s)}:${WELCOME_CONTAINER_PORT} ${WELCOME_IMAGE}`,
    action: { kind: 'runWelcome', labelKey: 'onboarding.welcome.action' },
    done: (s) => welcomeContainer(s) !== undefined,
    gate: true,
    when: engineRunning,
  },
  {
    id: 'open',
    titleKey: 'onboarding.open.title',
    bodyKey: 'onboarding.open.body',
    cli: (s) => `curl http://localhost:${welcomePort(s)}`,
    action: { kind: 'openWelcome', labelKey: 'onboarding.open.action' },
    done: (s) => s.opened,
    when: (s) => welcomeContainer(s) !== undefined,
  },
  {
    // Optional: Next is never held back; it needs the welcome image as its base.
    id: 'build',
    titleKey: 'onboarding.build.title',
    bodyKey: 'onboarding.build.body',
    cli: () => `docker build -t ${BUILT_IMAGE} .`,
    action: { kind: 'buildWelcome', labelKey: 'onboarding.build.action' },
    done: (s) => s.images.some((i) => `${i.repository}:${i.tag}` === BUILT_IMAGE),
    when: (s) => engineRunning(s) && hasWelcomeImage(s),
  },
  {
    id: 'finish',
    titleKey: 'onboarding.finish.title',
    bodyKey: 'onboarding.finish.body',
    cli: () => `docker stop ${WELCOME_NAME}\ndocker rm ${WELCOME_NAME}`,
  },
];

const shown = (step: Step, s: TourState) => !step.when || step.when(s);

export function nextIndex(steps: Step[], current: number, s: TourState): number | null {
  for (let i = current + 1; i < steps.length; i++) if (shown(steps[i], s)) return i;
  return null;
}

export function prevIndex(steps: Step[], current: number, s: TourState): number | null {
  for (let i = current - 1; i >= 0; i--) if (shown(steps[i], s)) return i;
  return null;
}

export function canAdvance(step: Step, s: TourState): boolean {
  return !step.gate || !step.done || step.done(s);
}

export function isDone(step: Step, s: TourState): boolean {
  return !!step.done && step.done(s);
}

/** 1-based position and count among the steps shown now (for "3 / 8"). */
export function position(steps: Step[], current: number, s: TourState): { n: number; of: number } {
  const visible = steps.map((st, i) => (shown(st, s) || i === current ? i : -1)).filter((i) => i >= 0);
  return { n: visible.indexOf(current) + 1, of: visible.length };
}
