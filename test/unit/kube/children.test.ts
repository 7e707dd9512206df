import { describe, expect, it } from 'vitest';
import { childFailure } from '../../../src/kube/children.ts';
import { ApiError, TransportError } from '../../../src/kube/client.ts';
import { Jobs, Services } from '../../../src/kube/resources.ts';

const apiError = (status: number) => new ApiError(status, 'Reason', `HTTP ${status} from the apiserver`);

describe('childFailure', () => {
  it.each([400, 403, 422])('a write answered %i is permanent: only a spec change can help', (status) => {
    for (const verb of ['create', 'apply'] as const) {
      expect(childFailure(Services, 'mnist', verb, apiError(status))).toMatchObject({
        kind: 'failed',
        permanent: true,
      });
    }
  });

  it.each([409, 429, 500, 503])('a write answered %i is retried', (status) => {
    expect(childFailure(Services, 'mnist', 'apply', apiError(status))).toMatchObject({ permanent: false });
  });

  it.each([400, 403, 404, 422, 500])(
    'a read answered %i is always retried (it does not depend on the spec)',
    (status) => {
      expect(childFailure(Jobs, 'job-1', 'read', apiError(status))).toMatchObject({
        kind: 'failed',
        permanent: false,
      });
    },
  );

  it('retries a failed connection and names the verb, kind and object in the message', () => {
    const error = new TransportError('connect ECONNREFUSED 127.0.0.1:6443');
    const outcome = childFailure(Jobs, 'job-1', 'read', error);
    expect(outcome).toMatchObject({ kind: 'failed', permanent: false, error });
    expect(outcome.kind === 'failed' && outcome.message).toMatch(/^read Job job-1: .*ECONNREFUSED/);
  });
});
