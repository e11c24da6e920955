// @vitest-environment jsdom
import { fireEvent, render, screen } from '@testing-library/svelte';
import { get } from 'svelte/store';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { engine } from '../src/lib/engine';
import { REFRESH_DEBOUNCE_MS } from '../src/lib/events';
import { locale } from '../src/lib/i18n';
import { route } from '../src/lib/route';
import { settings } from '../src/lib/settings';
import type { RunRequest } from '../src/lib/types';
import Onboarding from '../src/views/onboarding/Onboarding.svelte';
import { container, fakeShell, advance } from './fake-shell';

afterEach(() => engine.stop());

const welcomeImage = { id: 'sha256:w', repository: 'berth/welcome', tag: 'latest', size: 900_000, created: 0, inUse: false };

describe('Onboarding', () => {
  it('can be completed: runs the welcome server on a free port and opens it', async () => {
    const shell = fakeShell({
      images: [welcomeImage],
      containers: [container('other', { ports: [{ ip: '0.0.0.0', privatePort: 80, publicPort: 8080, proto: 'tcp' }] })],
      handlers: {
        run_container: (args) => {
          const req = args.req as RunRequest;
          shell.state.containers = [
            ...shell.state.containers,
            container('berth-welcome', {
              image: req.image,
              ports: [{ ip: '0.0.0.0', privatePort: 80, publicPort: req.ports[0].hostPort, proto: 'tcp' }],
            }),
          ];
          return 'welcome-id';
        },
      },
    });
    locale.set('es');
    await engine.start();
    await advance();
    const open = vi.fn(async () => {});
    render(Onboarding, { props: { open } });
    const step = () => screen.getByTestId('onboarding-step').dataset.step;
    const next = () => fireEvent.click(screen.getByTestId('onboarding-next'));

    expect(step()).toBe('intro');
    expect(screen.getByTestId('onboarding-title').textContent).toBe('Te damos la bienvenida a Berth');
    await next();
    expect(step()).toBe('image'); // the engine runs: its step is skipped
    expect(screen.getByTestId('onboarding-done')).toBeTruthy(); // the image is already here
    for (const id of ['container', 'volume', 'network', 'run', 'welcome']) {
      await next();
      expect(step()).toBe(id);
    }
    expect((screen.getByTestId('onboarding-next') as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByTestId('onboarding-cli').textContent).toBe('docker run -d --name berth-welcome -p 8081:80 berth/welcome:latest');
    await fireEvent.click(screen.getByTestId('onboarding-action'));
    await advance(REFRESH_DEBOUNCE_MS); // the run, then the list refresh it asks for
    expect(shell.of('run_container')[0].args.req).toMatchObject({
      image: 'berth/welcome:latest',
      name: 'berth-welcome',
      ports: [{ hostPort: 8081, containerPort: 80, proto: 'tcp' }],
    });
    expect((screen.getByTestId('onboarding-next') as HTMLButtonElement).disabled).toBe(false);
    await next();
    expect(step()).toBe('open');
    await fireEvent.click(screen.getByTestId('onboarding-action'));
    await advance();
    expect(open).toHaveBeenCalledWith('http://localhost:8081');
    await next();
    expect(step()).toBe('build'); // optional: Next is open without building
    expect((screen.getByTestId('onboarding-next') as HTMLButtonElement).disabled).toBe(false);
    await next();
    expect(step()).toBe('finish');
    expect(screen.getByTestId('onboarding-next').dataset.last).toBe('true');
    await next();
    await advance();
    expect(shell.of('set_settings').slice(-1)[0]?.args.settings).toMatchObject({ onboardingDone: true });
    expect(get(settings).onboardingDone).toBe(true);
    expect(get(route).view).toBe('containers');
  });

  it('can be skipped from any step', async () => {
    const shell = fakeShell({ images: [welcomeImage] });
    locale.set('en');
    await engine.start();
    render(Onboarding, { props: {} });
    await fireEvent.click(screen.getByTestId('onboarding-skip'));
    await advance();
    expect(shell.of('set_settings').slice(-1)[0]?.args.settings).toMatchObject({ onboardingDone: true });
  });
});
