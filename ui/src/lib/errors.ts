// CommandError → the translated message to show, and the form field it belongs to.
import type { CommandError } from './types';

export interface ErrorText {
  key: string;
  params: Record<string, string>;
}

/** Every key this module can answer (checked against the locale files by the i18n test). */
export const ERROR_KEYS = [
  'errors.unavailable',
  'errors.notFound',
  'errors.imageNotFound',
  'errors.conflict',
  'errors.nameTaken',
  'errors.portTaken',
  'errors.invalid',
  'errors.engine',
  'errors.unknownCommand',
] as const;

export function isPortConflict(err: CommandError): boolean {
  return (
    (err.kind === 'conflict' || err.kind === 'engine') &&
    (err.field === 'ports' || /port.*(allocated|in use)|address already in use/i.test(err.message))
  );
}

export function errorText(err: CommandError, subject = ''): ErrorText {
  const params = { message: err.message, subject };
  switch (err.kind) {
    case 'unavailable':
      return { key: 'errors.unavailable', params };
    case 'not_found':
      return { key: err.field === 'image' ? 'errors.imageNotFound' : 'errors.notFound', params };
    case 'conflict':
      if (err.field === 'name') return { key: 'errors.nameTaken', params };
      if (isPortConflict(err)) return { key: 'errors.portTaken', params };
      return { key: 'errors.conflict', params };
    case 'invalid':
      return { key: 'errors.invalid', params };
    case 'unknown_command':
      return { key: 'errors.unknownCommand', params };
    default:
      return isPortConflict(err) ? { key: 'errors.portTaken', params } : { key: 'errors.engine', params };
  }
}

/**
 * Splits an error between a form's fields: the field it names (or "ports" for a taken port), else the
 * form as a whole ("_form", shown next to the submit button).
 */
export function fieldOf(err: CommandError, fields: readonly string[]): string {
  if (err.field && fields.includes(err.field)) return err.field;
  if (isPortConflict(err) && fields.includes('ports')) return 'ports';
  return '_form';
}
