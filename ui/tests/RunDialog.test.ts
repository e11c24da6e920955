// @vitest-environment jsdom
import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { locale } from '../src/lib/i18n';
import type { RunRequest } from '../src/lib/types';
import RunDialog from '../src/views/images/RunDialog.svelte';
import { advance } from './fake-shell';

async function type(testid: string, value: string, index = 0) {
  const el = screen.getAllByTestId(testid)[index] as HTMLInputElement;
  el.value = value;
  await fireEvent.input(el);
}

function mount(run: (req: RunRequest) => Promise<string>, lang: 'en' | 'es' = 'en') {
  locale.set(lang);
  const ondone = vi.fn();
  const onclose = vi.fn();
  render(RunDialog, { props: { image: 'berth/welcome:latest', run, ondone, onclose } });
  return { ondone, onclose };
}

describe('Run dialog', () => {
  it('shows the equivalent docker run line as the form changes', async () => {
    mount(vi.fn());
    expect(screen.getByTestId('run-line').textContent).toBe('docker run -d berth/welcome:latest');
    await type('run-name', 'hello');
    await fireEvent.click(screen.getByTestId('btn-add-port'));
    await type('run-port-host', '8080');
    await type('run-port-container', '80');
    await type('run-env', 'GREETING=hola mundo');
    expect(screen.getByTestId('run-line').textContent).toBe(
      "docker run -d --name hello -p 8080:80 -e 'GREETING=hola mundo' berth/welcome:latest",
    );
  });

  it('refuses a port out of range next to the field, in the user language, without calling the engine', async () => {
    const run = vi.fn();
    mount(run, 'es');
    await fireEvent.click(screen.getByTestId('btn-add-port'));
    await type('run-port-host', '70000');
    await type('run-port-container', '80');
    await fireEvent.click(screen.getByTestId('btn-run-submit'));
    expect(run).not.toHaveBeenCalled();
    expect(screen.getByTestId('run-port-error').textContent).toBe('Un puerto es un número del 1 al 65535.');
    expect((screen.getByTestId('run-port-host') as HTMLInputElement).value).toBe('70000');
  });

  it('puts a taken name next to the name field and keeps everything typed', async () => {
    const run = vi
      .fn()
      .mockRejectedValueOnce({ kind: 'conflict', field: 'name', message: 'Conflict. The container name "/web" is already in use' })
      .mockResolvedValueOnce('new-id');
    const { ondone, onclose } = mount(run);
    await type('run-name', 'web');
    await type('run-env', 'A=1');
    await fireEvent.click(screen.getByTestId('btn-run-submit'));
    await advance();
    expect(screen.getByTestId('run-name-error').textContent).toBe('The name "web" is already taken by another container.');
    expect((screen.getByTestId('run-name') as HTMLInputElement).value).toBe('web');
    expect((screen.getByTestId('run-env') as HTMLTextAreaElement).value).toBe('A=1');
    expect(onclose).not.toHaveBeenCalled();

    await type('run-name', 'web2');
    await fireEvent.click(screen.getByTestId('btn-run-submit'));
    await advance();
    expect(run).toHaveBeenLastCalledWith({
      image: 'berth/welcome:latest',
      name: 'web2',
      ports: [],
      env: ['A=1'],
      volumes: [],
      command: null,
      restartPolicy: 'no',
    });
    expect(ondone).toHaveBeenCalledWith('new-id');
    expect(onclose).toHaveBeenCalled();
  });

  it('puts a missing image next to the image field', async () => {
    mount(vi.fn().mockRejectedValue({ kind: 'not_found', field: 'image', message: 'No such image: nope:latest' }));
    await type('run-image', 'nope:latest');
    await fireEvent.click(screen.getByTestId('btn-run-submit'));
    await advance();
    expect(screen.getByTestId('run-image-error').textContent).toBe('The image "nope:latest" does not exist here or in its registry.');
  });

  it('shows other engine errors next to the Run button', async () => {
    mount(vi.fn().mockRejectedValue({ kind: 'engine', message: 'runtime exploded' }));
    await fireEvent.click(screen.getByTestId('btn-run-submit'));
    await advance();
    expect(screen.getByTestId('run-error').textContent).toContain('runtime exploded');
  });
});
