// The one list of hosts the lab can find by name.

import { BadInput } from '../machine/errors.js';
import type { HostDefinition } from './host.js';
import { nativeHost } from './native/host.js';
import { xenHostOf } from './xen/host.js';
import { XEN_VERSIONS } from './xen/version.js';

const HOSTS: readonly HostDefinition[] = [nativeHost, ...Object.values(XEN_VERSIONS).map((v) => xenHostOf(v) as HostDefinition)];

/** The host a profile names; BadInput if no host of that name is implemented. */
export function findHost(name: string): HostDefinition {
  const host = HOSTS.find((h) => h.name === name);
  if (host === undefined) throw new BadInput(`host '${name}' is not implemented yet`);
  return host;
}

/** Names of the implemented hosts. */
export function hostNames(): string[] {
  return HOSTS.map((h) => h.name);
}
