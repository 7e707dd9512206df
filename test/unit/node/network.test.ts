import { describe, expect, it } from 'vitest';
import { clusterNetwork } from '../../support/node/network.ts';

describe('the test cluster network', () => {
  it('defaults to pods in 198.18.0.0/16 and Services in 198.19.0.0/16', () => {
    expect(clusterNetwork()).toEqual({
      podCidr: '198.18.0.0/16',
      serviceCidr: '198.19.0.0/16',
      nodePodSubnet: '198.18.0.0/24',
      nodeIp: '198.18.0.1',
      kwokPodCidr: '198.18.128.1/17',
      apiServiceIp: '198.19.0.1',
      dnsServiceIp: '198.19.0.10',
    });
  });

  it('derives every address from the CIDRs it is given', () => {
    const network = clusterNetwork({ podCidr: '198.18.64.0/18', serviceCidr: '198.19.128.0/20' });
    expect(network.nodeIp).toBe('198.18.64.1');
    expect(network.nodePodSubnet).toBe('198.18.64.0/24');
    expect(network.kwokPodCidr).toBe('198.18.96.1/19');
    expect(network.apiServiceIp).toBe('198.19.128.1');
    expect(network.dnsServiceIp).toBe('198.19.128.10');
  });

  it.each([
    ['10.96.0.0/16', 'serviceCidr'],
    ['172.20.0.0/16', 'serviceCidr'],
    ['192.168.0.0/24', 'serviceCidr'],
    ['10.0.0.0/7', 'serviceCidr'],
  ])('refuses the private range %s', (cidr, field) => {
    expect(() => clusterNetwork({ serviceCidr: cidr })).toThrow(new RegExp(`^${field}: .*private range`));
  });

  it('refuses a private pod CIDR, naming the field', () => {
    expect(() => clusterNetwork({ podCidr: '10.244.0.0/16' })).toThrow(/^podCidr: .*private range/);
  });

  it.each([
    [{ podCidr: '198.18.0.0' }, /^podCidr: .*not an IPv4 CIDR/],
    [{ podCidr: '198.18.0.1/16' }, /^podCidr: .*host bits set/],
    [{ podCidr: '198.18.0.0/24' }, /^podCidr: .*too small/],
    [{ serviceCidr: '198.18.0.0/16' }, /^serviceCidr: .*overlaps podCidr/],
    [{ serviceCidr: '300.1.0.0/16' }, /^serviceCidr: .*not an IPv4 CIDR/],
    [{ serviceCidr: '198.19.0.0/28' }, /^serviceCidr: .*between a \/12 and a \/24/],
  ])('refuses %j', (options, message) => {
    expect(() => clusterNetwork(options)).toThrow(message);
  });
});
