// The run dialog's form: validation into a RunRequest, with the locale key of each field's message.
import { PORT_ERRORS, duplicateHostPorts, validatePortRow } from './ports';
import { splitCommand } from './runline';
import type { PortRequest, Proto, RestartPolicy, RunRequest } from './types';

export interface PortRow {
  host: string;
  container: string;
  proto: Proto;
}

export interface RunForm {
  image: string;
  name: string;
  ports: PortRow[];
  /** One KEY=value per line. */
  env: string;
  /** One source:/destination[:ro] per line. */
  volumes: string;
  command: string;
  restartPolicy: RestartPolicy;
}

export const RESTART_POLICIES: RestartPolicy[] = ['no', 'always', 'unless-stopped', 'on-failure'];

export const emptyForm = (image = ''): RunForm => ({
  image,
  name: '',
  ports: [],
  env: '',
  volumes: '',
  command: '',
  restartPolicy: 'no',
});

/** Field → message: `{ key, params }`. Port rows use "ports.<row>.host" / "ports.<row>.container". */
export type FormErrors = Record<string, { key: string; params?: Record<string, string | number> }>;

/** Every key this module can answer (checked against the locale files by the i18n test). */
export const FORM_ERROR_KEYS = [
  'validation.imageRequired',
  'validation.imageFormat',
  'validation.nameFormat',
  'validation.envFormat',
  'validation.volumeFormat',
  'validation.commandQuote',
  ...Object.values(PORT_ERRORS),
];

const lines = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
// Loose image reference check: lowercase path components, optional registry host:port, tag or digest.
const IMAGE =
  /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::\d+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
const ENV = /^[^=\s]+=/;
const VOLUME = /^[^:]+:\/[^:]*(?::(?:ro|rw|z|Z)(?:,(?:ro|rw|z|Z))*)?$/;

/** The valid bindings with the row each came from; empty rows are ignored, bad ones reported. */
function portBindings(rows: PortRow[], errors: FormErrors | null): { binding: PortRequest; row: number }[] {
  const out: { binding: PortRequest; row: number }[] = [];
  rows.forEach((r, row) => {
    if (r.host.trim() === '' && r.container.trim() === '') return;
    const v = validatePortRow(r.host, r.container, r.proto);
    if (v.ok) out.push({ binding: v.binding, row });
    else if (errors) errors[`ports.${row}.${v.field}`] = { key: v.error };
  });
  return out;
}

export function validateForm(form: RunForm): { ok: true; request: RunRequest } | { ok: false; errors: FormErrors } {
  const errors: FormErrors = {};
  const image = form.image.trim();
  if (!image) errors.image = { key: 'validation.imageRequired' };
  else if (!IMAGE.test(image)) errors.image = { key: 'validation.imageFormat' };
  const name = form.name.trim();
  if (name && !NAME.test(name)) errors.name = { key: 'validation.nameFormat' };

  const bound = portBindings(form.ports, errors);
  const ports = bound.map((b) => b.binding);
  for (const dup of duplicateHostPorts(ports)) errors[`ports.${bound[dup].row}.host`] = { key: PORT_ERRORS.duplicate };

  const env = lines(form.env);
  const badEnv = env.findIndex((l) => !ENV.test(l));
  if (badEnv >= 0) errors.env = { key: 'validation.envFormat', params: { line: env[badEnv] } };
  const volumes = lines(form.volumes);
  const badVol = volumes.findIndex((l) => !VOLUME.test(l));
  if (badVol >= 0) errors.volumes = { key: 'validation.volumeFormat', params: { line: volumes[badVol] } };

  const command = form.command.trim() ? splitCommand(form.command) : null;
  if (form.command.trim() && command === null) errors.command = { key: 'validation.commandQuote' };

  if (Object.keys(errors).length) return { ok: false, errors };
  return {
    ok: true,
    request: {
      image,
      name: name || null,
      ports,
      env,
      volumes,
      command: command && command.length ? command : null,
      restartPolicy: form.restartPolicy,
    },
  };
}

/** The request as far as the form makes sense, for the live `docker run` preview. */
export function previewRequest(form: RunForm): RunRequest {
  const command = form.command.trim() ? (splitCommand(form.command) ?? form.command.trim().split(/\s+/)) : null;
  return {
    image: form.image.trim(),
    name: form.name.trim() || null,
    ports: portBindings(form.ports, null).map((b) => b.binding),
    env: lines(form.env),
    volumes: lines(form.volumes),
    command,
    restartPolicy: form.restartPolicy,
  };
}
