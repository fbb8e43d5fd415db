/**
 * What the nodes download and run as root, pinned in one place: the K3s release binary by
 * version and sha256, and the kubelet ECR credential provider, installed only when it is pinned by
 * version and sha256 too. The user data (cdk/userdata/*.sh) verifies every pinned download
 * against its sum before anything runs it, and writes the K3s systemd unit itself: no install
 * script (get.k3s.io) is fetched or run. docs/SECURITY_CHECKLIST.md lists the property and its test.
 *
 * Every sum here names where it was read. A version without a traceable sum is not added: pass
 * its sum with the `k3sSha256` context instead, after checking it against the release's
 * `sha256sum-amd64.txt`.
 */

/** A pinned download: its URL for a version, the expected sha256 (hex), and where the sum was read. */
export interface PinnedBinary {
  readonly version: string;
  readonly url: string;
  /** Lower-case hex sha256 of the file at `url`; undefined when no sum could be traced. */
  readonly sha256: string | undefined;
  /** Where the sum comes from (or why there is none). */
  readonly source: string;
}

/** The amd64 K3s release binaries with a known sum, by version. */
export const K3S_AMD64_SHA256: Readonly<Record<string, { sha256: string; source: string }>> = {
  'v1.31.4+k3s1': {
    sha256: '74897e4af26ea383ce50f445752f40ca63a0aef0d90994fb74073c43063eeeb2',
    source:
      'the release checksum file https://github.com/k3s-io/k3s/releases/download/v1.31.4+k3s1/sha256sum-amd64.txt, ' +
      'as copied into github.com/andrewrothstein/ansible-k3s defaults/main.yml (commit 1496b9e5f5065febcea5ed50287b7e4bc919b8a6); ' +
      'the same sum is the default checksum of a public Puppet k3s module for v1.31.4+k3s1',
  },
};

/** The K3s release binary of `version` (amd64), its sum from {@link K3S_AMD64_SHA256} unless `sha256` is given. */
export function k3sBinary(version: string, sha256?: string): PinnedBinary {
  const known = K3S_AMD64_SHA256[version];
  return {
    version,
    url: `https://github.com/k3s-io/k3s/releases/download/${encodeURIComponent(version)}/k3s`,
    sha256: sha256 ?? known?.sha256,
    source: sha256 ? 'the k3sSha256 context' : (known?.source ?? 'none'),
  };
}

/** A version of the kubelet ECR credential provider and the sha256 of its linux-amd64 binary. */
export interface EcrCredentialProviderPin {
  readonly version: string;
  readonly sha256: string;
}

/**
 * The kubelet ECR credential provider (cloud-provider-aws) for workers, only when it is pinned by
 * version **and** sha256 (contexts `ecrCredentialProviderVersion` and
 * `ecrCredentialProviderSha256`); `undefined` otherwise, and then workers do not install it and
 * pods cannot pull from private ECR repositories (the demo app image included). No sum is pinned
 * here by default: none of the published sums (artifacts.k8s.io, next to the binary) could be
 * traced to a source this project can read, and a sum is never invented. Take it from
 * `https://artifacts.k8s.io/binaries/cloud-provider-aws/<version>/linux/amd64/ecr-credential-provider-linux-amd64.sha256`
 * and check it against a second source before passing it.
 */
export function ecrCredentialProvider(pin: EcrCredentialProviderPin | undefined): PinnedBinary | undefined {
  if (!pin) return undefined;
  return {
    version: pin.version,
    url: `https://artifacts.k8s.io/binaries/cloud-provider-aws/${encodeURIComponent(pin.version)}/linux/amd64/ecr-credential-provider-linux-amd64`,
    sha256: pin.sha256,
    source: 'the ecrCredentialProviderSha256 context',
  };
}
