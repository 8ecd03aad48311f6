// The one description of every HTTP route: the lean boot path matches against it, express
// registers the API from it, and the OpenAPI document is generated from it.

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One route: method, path pattern (`:param`, trailing `*` for the rest), and how it is served. */
export interface RouteSpec {
  name: string;
  methods: Method[];
  path: string;
  /** Served by the raw Node path (boot-critical, no middleware) or by express. */
  lean: boolean;
  /** Needs the admin bearer token. */
  auth: boolean;
  summary: string;
}

export const ROUTES: readonly RouteSpec[] = [
  { name: 'kickstart', methods: ['GET', 'HEAD'], path: '/ks/:token', lean: true, auth: false, summary: "A system's kickstart, while it is armed (token from its boot menu)" },
  { name: 'kickstartByMac', methods: ['GET', 'HEAD'], path: '/ks', lean: true, auth: false, summary: 'Kickstart matched by X-RHN-Provisioning-MAC headers, ?mac= or source address' },
  { name: 'script', methods: ['GET', 'HEAD'], path: '/scripts/:token/:script', lean: true, auth: false, summary: 'install.sh or rescue.sh of an armed system' },
  { name: 'event', methods: ['GET', 'POST'], path: '/events/:token/:stage', lean: true, auth: false, summary: 'A step report from a guest (body: message, or the installer log for failed)' },
  { name: 'ipxeEntry', methods: ['GET'], path: '/boot.ipxe', lean: true, auth: false, summary: 'iPXE entry script: chains to the per-MAC script' },
  { name: 'ipxeMac', methods: ['GET'], path: '/ipxe/:mac', lean: true, auth: false, summary: 'Per-MAC iPXE script: install while armed, local boot otherwise' },
  { name: 'bootLoader', methods: ['GET', 'HEAD'], path: '/boot/:file', lean: true, auth: false, summary: 'A boot loader DHCP names (UEFI HTTP Boot), the same file TFTP serves' },
  { name: 'tree', methods: ['GET', 'HEAD'], path: '/trees/:distro/*', lean: true, auth: false, summary: 'Install tree read straight out of an ISO' },
  { name: 'healthz', methods: ['GET'], path: '/healthz', lean: false, auth: false, summary: 'Liveness' },
  { name: 'listSystems', methods: ['GET'], path: '/api/v1/systems', lean: false, auth: true, summary: 'List systems' },
  { name: 'createSystem', methods: ['POST'], path: '/api/v1/systems', lean: false, auth: true, summary: 'Register a system' },
  { name: 'getSystem', methods: ['GET'], path: '/api/v1/systems/:name', lean: false, auth: true, summary: 'One system' },
  { name: 'updateSystem', methods: ['PATCH'], path: '/api/v1/systems/:name', lean: false, auth: true, summary: 'Change name, MACs, IP, hostname, profile or overrides (a profile registers a discovered system)' },
  { name: 'deleteSystem', methods: ['DELETE'], path: '/api/v1/systems/:name', lean: false, auth: true, summary: 'Remove a system' },
  { name: 'rebuildSystem', methods: ['POST'], path: '/api/v1/systems/:name/rebuild', lean: false, auth: true, summary: 'Arm a fresh install run (new token); with {"reboot": true} also set the next boot and power-cycle' },
  { name: 'disarmSystem', methods: ['POST'], path: '/api/v1/systems/:name/disarm', lean: false, auth: true, summary: 'Cancel an armed install' },
  { name: 'systemEvents', methods: ['GET'], path: '/api/v1/systems/:name/events', lean: false, auth: true, summary: 'Event timeline with durations between steps' },
  { name: 'renderArtifact', methods: ['GET'], path: '/api/v1/systems/:name/render/:kind', lean: false, auth: true, summary: 'Render an artifact for operators' },
  { name: 'getPower', methods: ['GET'], path: '/api/v1/systems/:name/power', lean: false, auth: true, summary: 'Power settings (secret never shown), the merged ones and the last state seen' },
  { name: 'setPower', methods: ['PUT'], path: '/api/v1/systems/:name/power', lean: false, auth: true, summary: 'Set power settings (driver, address, user, secret, options); a missing secret keeps the stored one' },
  { name: 'deletePower', methods: ['DELETE'], path: '/api/v1/systems/:name/power', lean: false, auth: true, summary: "Remove a system's own power settings (profile defaults still apply)" },
  { name: 'powerAction', methods: ['POST'], path: '/api/v1/systems/:name/power/:action', lean: false, auth: true, summary: 'Power status, on, off or cycle through the driver' },
  { name: 'rebuildMany', methods: ['POST'], path: '/api/v1/rebuild', lean: false, auth: true, summary: 'Rebuild a list of systems (optionally with reboot), a few at a time' },
  { name: 'listProfiles', methods: ['GET'], path: '/api/v1/profiles', lean: false, auth: true, summary: 'Resolved profiles, secrets masked' },
  { name: 'getProfile', methods: ['GET'], path: '/api/v1/profiles/:name', lean: false, auth: true, summary: 'One resolved profile, secrets masked' },
  { name: 'listDistros', methods: ['GET'], path: '/api/v1/distros', lean: false, auth: true, summary: 'Distros from YAML and ISOs' },
  { name: 'openapi', methods: ['GET'], path: '/api/v1/openapi.json', lean: false, auth: false, summary: 'This OpenAPI 3 description of the API' },
  { name: 'metrics', methods: ['GET'], path: '/metrics', lean: false, auth: false, summary: 'Prometheus metrics (text exposition format)' },
];

/** A compiled route pattern. */
export interface CompiledRoute {
  spec: RouteSpec;
  match(path: string): Record<string, string> | null;
}

/** Returns a matcher for a `:param` / trailing-`*` pattern; params are URI-decoded. */
export function compilePattern(spec: RouteSpec): CompiledRoute {
  const parts = spec.path.split('/').slice(1);
  return {
    spec,
    // Scans the path in place (no split): the boot path runs this on every request.
    match(path) {
      if (path.charCodeAt(0) !== 47) return null;
      const params: Record<string, string> = {};
      let pos = 1;
      for (let i = 0; i < parts.length; i++) {
        const p = parts[i]!;
        if (p === '*') {
          params['*'] = pos > path.length ? '' : path.slice(pos);
          return params;
        }
        if (pos > path.length) return null;
        let end = path.indexOf('/', pos);
        if (end < 0) end = path.length;
        if (p.charCodeAt(0) === 58) {
          if (end === pos) return null;
          const s = path.slice(pos, end);
          if (s.includes('%')) {
            try {
              params[p.slice(1)] = decodeURIComponent(s);
            } catch {
              return null;
            }
          } else params[p.slice(1)] = s;
        } else if (end - pos !== p.length || !path.startsWith(p, pos)) return null;
        pos = end + 1;
      }
      return pos > path.length ? params : null;
    },
  };
}

/** Returns the lean routes compiled, in table order. */
export function leanRoutes(): CompiledRoute[] {
  return ROUTES.filter((r) => r.lean).map(compilePattern);
}

/** Returns the express path of a spec (express 5 names a wildcard `*rest`). */
export function expressPath(spec: RouteSpec): string {
  return spec.path.replace(/\*$/, '*rest');
}
