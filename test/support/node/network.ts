// The test cluster's addresses, as pure functions of two CIDRs. Defaults: pods in 198.18.0.0/16,
// Services in 198.19.0.0/16 (RFC 2544's benchmarking range: never routed on the internet and
// never used by the private networks this machine may sit in). Private ranges are refused.

export interface ClusterNetworkOptions {
  /** Pod CIDR of the whole cluster (default 198.18.0.0/16). */
  podCidr?: string;
  /** Service CIDR (default 198.19.0.0/16); its first address is the `kubernetes` Service's. */
  serviceCidr?: string;
}

export interface ClusterNetwork {
  podCidr: string;
  serviceCidr: string;
  /** The real node's pod subnet (host-local IPAM): the first /24 of the pod CIDR. */
  nodePodSubnet: string;
  /** The node IP: the first address of nodePodSubnet, on the CNI bridge (the pods' gateway). */
  nodeIp: string;
  /** Fake pod IPs kwok hands out: the upper half of the pod CIDR, away from the real node's. */
  kwokPodCidr: string;
  /** ClusterIP of the `kubernetes` Service (first address of the Service CIDR). */
  apiServiceIp: string;
  /** ClusterIP of the cluster DNS (CoreDNS): the tenth address of the Service CIDR. */
  dnsServiceIp: string;
}

export const defaultPodCidr = '198.18.0.0/16';
export const defaultServiceCidr = '198.19.0.0/16';

export class ClusterNetworkError extends Error {
  readonly code = 'cluster_network_invalid';
}

interface Cidr {
  base: number;
  prefix: number;
}

function parseIp(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    value = value * 256 + Number(part);
  }
  return value;
}

export function formatIp(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

function parseCidr(field: string, text: string): Cidr {
  const [ip, prefixText] = text.split('/');
  const base = ip === undefined ? undefined : parseIp(ip);
  const prefix = Number(prefixText);
  if (base === undefined || !/^\d{1,2}$/.test(prefixText ?? '') || prefix > 32) {
    throw new ClusterNetworkError(
      `${field}: ${JSON.stringify(text)} is not an IPv4 CIDR such as 198.18.0.0/16`,
    );
  }
  const size = 2 ** (32 - prefix);
  if (base % size !== 0) {
    throw new ClusterNetworkError(
      `${field}: ${text} has host bits set (the network is ${formatIp(base - (base % size))}/${prefix})`,
    );
  }
  return { base, prefix };
}

const privateRanges = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'].map((text) =>
  parseCidr('private', text),
);

function overlaps(a: Cidr, b: Cidr): boolean {
  const aEnd = a.base + 2 ** (32 - a.prefix);
  const bEnd = b.base + 2 ** (32 - b.prefix);
  return a.base < bEnd && b.base < aEnd;
}

/** Validates the CIDRs (IPv4, no private range, no overlap, room for a /24) and derives the rest. */
export function clusterNetwork(options: ClusterNetworkOptions = {}): ClusterNetwork {
  const podCidr = options.podCidr ?? defaultPodCidr;
  const serviceCidr = options.serviceCidr ?? defaultServiceCidr;
  const pods = parseCidr('podCidr', podCidr);
  const services = parseCidr('serviceCidr', serviceCidr);
  for (const [field, cidr, text] of [
    ['podCidr', pods, podCidr],
    ['serviceCidr', services, serviceCidr],
  ] as const) {
    if (privateRanges.some((range) => overlaps(range, cidr))) {
      throw new ClusterNetworkError(
        `${field}: ${text} overlaps a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16), which this machine's network may use; take e.g. part of 198.18.0.0/15`,
      );
    }
  }
  if (overlaps(pods, services)) {
    throw new ClusterNetworkError(`serviceCidr: ${serviceCidr} overlaps podCidr ${podCidr}`);
  }
  if (pods.prefix > 23)
    throw new ClusterNetworkError(`podCidr: ${podCidr} is too small (a /23 or larger is needed)`);
  if (services.prefix > 24 || services.prefix < 12) {
    throw new ClusterNetworkError(
      `serviceCidr: ${serviceCidr} must be between a /12 and a /24 (the apiserver's limits)`,
    );
  }
  const half = pods.prefix + 1;
  return {
    podCidr,
    serviceCidr,
    nodePodSubnet: `${formatIp(pods.base)}/24`,
    nodeIp: formatIp(pods.base + 1),
    kwokPodCidr: `${formatIp(pods.base + 2 ** (32 - half) + 1)}/${half}`,
    apiServiceIp: formatIp(services.base + 1),
    dnsServiceIp: formatIp(services.base + 10),
  };
}

/** The range the isolation guard drops on the external interface: the smallest CIDR holding both. */
export function guardedCidrs(network: ClusterNetwork): string[] {
  return [network.podCidr, network.serviceCidr];
}
