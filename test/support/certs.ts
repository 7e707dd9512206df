import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Paths of the throwaway PKI of one control plane, all inside its temp directory. */
export interface ControlPlaneCerts {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  /** Client certificate of the admin user (group system:masters) every component and test uses. */
  adminCert: string;
  adminKey: string;
  /** Service-account token signing key pair (apiserver verifies, controller manager signs). */
  serviceAccountKey: string;
  serviceAccountPub: string;
}

export interface CertOptions {
  /** Extra subject alternative names of the apiserver's serving certificate, e.g. `IP:10.0.0.1`. */
  extraSans?: string[];
  adminUser?: string;
}

export class OpensslError extends Error {
  readonly code = 'openssl_failed';
  constructor(args: string[], cause: unknown) {
    const stderr = (cause as { stderr?: string }).stderr?.trim();
    super(`openssl ${args.slice(0, 2).join(' ')} failed${stderr ? `: ${stderr}` : ''}`, { cause });
  }
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (error) {
    throw new OpensslError(args, error);
  }
}

// P-256 keys: generated in milliseconds (RSA-2048 takes ~100 ms each on these machines), and every
// component (apiserver serving, client auth, ES256 service-account tokens) accepts them.
const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function leaf(
  dir: string,
  name: string,
  subject: string,
  extensions: string[],
  ca = { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') },
): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const addext = extensions.flatMap((extension) => ['-addext', extension]);
  // `req -x509 -CA` (OpenSSL 3) signs a fresh key with the CA in one step, no CSR file.
  await openssl(
    ['req', '-x509', ...ecKey, '-keyout', key, '-out', cert, '-days', '7', '-subj', subject]
      .concat(['-CA', ca.cert, '-CAkey', ca.key])
      .concat(['-addext', 'basicConstraints=critical,CA:FALSE', ...addext]),
    dir,
  );
  return { cert, key };
}

/** Creates a CA, the apiserver's serving certificate, an admin client certificate and SA keys. */
export async function createControlPlaneCerts(
  dir: string,
  options: CertOptions = {},
): Promise<ControlPlaneCerts> {
  const caCert = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  await openssl(
    ['req', '-x509', ...ecKey, '-keyout', caKey, '-out', caCert, '-days', '7', '-subj', '/CN=kinfer-test-ca']
      .concat(['-addext', 'basicConstraints=critical,CA:TRUE'])
      .concat(['-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature']),
    dir,
  );
  const sans = [
    'IP:127.0.0.1',
    'DNS:localhost',
    'DNS:kubernetes',
    'DNS:kubernetes.default',
    'DNS:kubernetes.default.svc',
    'DNS:kubernetes.default.svc.cluster.local',
    ...(options.extraSans ?? []),
  ];
  const serviceAccountKey = join(dir, 'sa.key');
  const serviceAccountPub = join(dir, 'sa.pub');
  const [serving, admin] = await Promise.all([
    leaf(dir, 'apiserver', '/CN=kube-apiserver', [
      `subjectAltName=${sans.join(',')}`,
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
    ]),
    leaf(dir, 'admin', `/O=system:masters/CN=${options.adminUser ?? 'kinfer-admin'}`, [
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=clientAuth',
    ]),
    openssl(
      ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', serviceAccountKey],
      dir,
    ).then(() => openssl(['pkey', '-in', serviceAccountKey, '-pubout', '-out', serviceAccountPub], dir)),
  ]);
  return {
    caCert,
    caKey,
    servingCert: serving.cert,
    servingKey: serving.key,
    adminCert: admin.cert,
    adminKey: admin.key,
    serviceAccountKey,
    serviceAccountPub,
  };
}

/**
 * A client certificate signed by the control plane's CA, e.g. the kubelet's
 * (`/O=system:nodes/CN=system:node:NAME`) or kube-proxy's (`/CN=system:kube-proxy`).
 */
export async function createClientCert(
  dir: string,
  name: string,
  subject: string,
  ca: Pick<ControlPlaneCerts, 'caCert' | 'caKey'>,
): Promise<{ cert: string; key: string }> {
  return leaf(
    dir,
    name,
    subject,
    ['keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=clientAuth'],
    { cert: ca.caCert, key: ca.caKey },
  );
}

/** Writes a kubeconfig with embedded credentials, so it stays valid when copied elsewhere. */
export async function writeKubeconfig(
  path: string,
  server: string,
  certs: Pick<ControlPlaneCerts, 'caCert' | 'adminCert' | 'adminKey'>,
  name = 'kinfer-test',
): Promise<void> {
  const [ca, cert, key] = await Promise.all(
    [certs.caCert, certs.adminCert, certs.adminKey].map(async (file) =>
      (await readFile(file)).toString('base64'),
    ),
  );
  // JSON is valid YAML, and kubectl and @kubernetes/client-node both read it.
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server, 'certificate-authority-data': ca } }],
    users: [{ name: `${name}-admin`, user: { 'client-certificate-data': cert, 'client-key-data': key } }],
    contexts: [{ name, context: { cluster: name, user: `${name}-admin`, namespace: 'default' } }],
    'current-context': name,
  };
  await writeFile(path, `${JSON.stringify(kubeconfig, null, 2)}\n`, { mode: 0o600 });
}
