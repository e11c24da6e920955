import { describe, expect, it, vi } from 'vitest';
import type { ContainerItem, EngineStatus, ImageItem } from '../../lib/types';
import { STEPS, canAdvance, isDone, nextIndex, position, prevIndex, welcomeContainer, welcomePort, type TourState } from './steps';
import { runWelcome, welcomeRequest } from './welcome';

const engine = (state: EngineStatus['state']): EngineStatus => ({ state, reason: null, host: '', version: null, canManage: true });
const welcomeImage: ImageItem = { id: 'sha256:w', repository: 'berth/welcome', tag: 'latest', size: 1, created: 0, inUse: false };
const ctr = (over: Partial<ContainerItem>): ContainerItem => ({
  id: 'c1',
  name: 'x',
  image: 'busybox',
  state: 'running',
  status: '',
  created: 0,
  ports: [],
  project: null,
  labels: {},
  ...over,
});
const welcomeRunning = ctr({
  id: 'w1',
  name: 'berth-welcome',
  image: 'berth/welcome:latest',
  ports: [{ ip: '0.0.0.0', privatePort: 80, publicPort: 8081, proto: 'tcp' }],
});
const state = (over: Partial<TourState> = {}): TourState => ({
  engine: engine('running'),
  images: [welcomeImage],
  containers: [],
  port: 8080,
  opened: false,
  ...over,
});
const idx = (id: string) => STEPS.findIndex((s) => s.id === id);

describe('onboarding steps', () => {
  it('teaches in order and ends by opening the welcome server', () => {
    expect(STEPS.map((s) => s.id)).toEqual([
      'intro',
      'engine',
      'image',
      'container',
      'volume',
      'network',
      'run',
      'welcome',
      'open',
      'build',
      'finish',
    ]);
    expect(STEPS.every((s) => s.cli)).toBe(true);
    expect(STEPS[0].when).toBeUndefined(); // the tour starts there unconditionally
  });

  it('walks docker run through its six stages, each with a command', () => {
    const run = STEPS[idx('run')];
    expect(run.points).toHaveLength(6);
    expect(run.points!.every((p) => p.cli.startsWith('docker '))).toBe(true);
  });

  it('skips the engine step when the engine already runs, and shows it when not', () => {
    expect(nextIndex(STEPS, 0, state())).toBe(idx('image'));
    expect(nextIndex(STEPS, 0, state({ engine: engine('stopped') }))).toBe(idx('engine'));
    expect(prevIndex(STEPS, idx('image'), state())).toBe(0);
  });

  it('holds the user on gated steps until they are done', () => {
    const welcome = STEPS[idx('welcome')];
    expect(canAdvance(welcome, state())).toBe(false);
    expect(canAdvance(welcome, state({ containers: [welcomeRunning] }))).toBe(true);
    expect(canAdvance(STEPS[idx('engine')], state({ engine: engine('stopped') }))).toBe(false);
    expect(canAdvance(STEPS[idx('image')], state({ images: [] }))).toBe(true);
  });

  it('offers "open" only once the server runs, and marks it done after opening', () => {
    expect(nextIndex(STEPS, idx('welcome'), state())).toBe(idx('build'));
    const s = state({ containers: [welcomeRunning] });
    expect(nextIndex(STEPS, idx('welcome'), s)).toBe(idx('open'));
    expect(isDone(STEPS[idx('open')], s)).toBe(false);
    expect(isDone(STEPS[idx('open')], { ...s, opened: true })).toBe(true);
    expect(nextIndex(STEPS, idx('finish'), s)).toBeNull();
  });

  it('uses the port the server really got in the commands', () => {
    expect(welcomePort(state())).toBe(8080);
    const s = state({ containers: [welcomeRunning] });
    expect(welcomeContainer(s)?.id).toBe('w1');
    expect(welcomePort(s)).toBe(8081);
    expect(STEPS[idx('open')].cli!(s)).toBe('curl http://localhost:8081');
    expect(STEPS[idx('welcome')].cli!(state({ port: 8090 }))).toBe('docker run -d --name berth-welcome -p 8090:80 berth/welcome:latest');
  });

  it('offers the optional build once the welcome image is there, done when the image exists', () => {
    const build = STEPS[idx('build')];
    expect(build.gate).toBeFalsy();
    expect(build.when!(state())).toBe(true);
    expect(build.when!(state({ images: [] }))).toBe(false);
    expect(build.done!(state())).toBe(false);
    const built: ImageItem = { ...welcomeImage, id: 'sha256:b', repository: 'my-welcome', tag: '1' };
    expect(build.done!(state({ images: [welcomeImage, built] }))).toBe(true);
    expect(build.cli!(state())).toBe('docker build -t my-welcome:1 .');
  });

  it('counts only the steps shown', () => {
    expect(position(STEPS, 0, state({ containers: [welcomeRunning] }))).toEqual({ n: 1, of: STEPS.length - 1 });
    expect(position(STEPS, idx('image'), state())).toEqual({ n: 2, of: STEPS.length - 2 });
  });
});

describe('running the welcome server', () => {
  it('runs berth/welcome on the first free port', async () => {
    const api = { runContainer: vi.fn(async () => 'id'), containerAction: vi.fn() };
    const busy = ctr({ ports: [{ ip: null, privatePort: 80, publicPort: 8080, proto: 'tcp' }] });
    expect(await runWelcome(api, [busy], 8080)).toBe(8081);
    expect(api.runContainer).toHaveBeenCalledWith(welcomeRequest(8081));
    expect(welcomeRequest(8081)).toMatchObject({
      image: 'berth/welcome:latest',
      ports: [{ hostPort: 8081, containerPort: 80, proto: 'tcp' }],
    });
  });

  it('moves to the next port when the host port is taken by something else', async () => {
    const api = {
      runContainer: vi
        .fn()
        .mockRejectedValueOnce({ kind: 'conflict', field: 'ports', message: 'port is already allocated' })
        .mockResolvedValueOnce('id'),
      containerAction: vi.fn(),
    };
    expect(await runWelcome(api, [], 8080)).toBe(8081);
    expect(api.runContainer).toHaveBeenCalledTimes(2);
  });

  it('restarts a stopped welcome container instead of making another', async () => {
    const api = { runContainer: vi.fn(), containerAction: vi.fn(async () => {}) };
    expect(await runWelcome(api, [ctr({ id: 'old', name: 'berth-welcome', state: 'exited' })], 8080)).toBe(8080);
    expect(api.containerAction).toHaveBeenCalledWith('old', 'start');
    expect(api.runContainer).not.toHaveBeenCalled();
  });

  it('gives up on other errors at once, keeping the error', async () => {
    const err = { kind: 'not_found', field: 'image', message: 'No such image: berth/welcome:latest' };
    const api = { runContainer: vi.fn().mockRejectedValue(err), containerAction: vi.fn() };
    await expect(runWelcome(api, [], 8080)).rejects.toBe(err);
    expect(api.runContainer).toHaveBeenCalledTimes(1);
  });
});
