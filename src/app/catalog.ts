import { SwitchyardError } from '../core/errors.js';
import type { Config, ServiceConfig } from '../config/schema.js';

/** The configured services and their versions: what commands and routing may name. */
export class ServiceCatalog {
  readonly names: readonly string[];

  constructor(private readonly services: Config['services']) {
    this.names = Object.keys(services);
  }

  get(service: string): ServiceConfig {
    const found = Object.hasOwn(this.services, service) ? this.services[service] : undefined;
    if (found === undefined) {
      const shown = service.length > 200 ? `${service.slice(0, 200)}...` : service;
      throw new SwitchyardError('SY_ERR_UNKNOWN_SERVICE', `no service named ${shown} (services: ${this.names.join(', ')})`, { service: shown });
    }
    return found;
  }

  versions(service: string): string[] {
    return Object.keys(this.get(service).versions);
  }
}
