// A service's routes and its document are the same list: every handler Nest routes is an
// operation of the service's API (`@Route`), and every operation of the API has its handler.
// A mismatch stops the start-up, so nothing is served undocumented or documented unserved.
import type { INestApplication, Type } from '@nestjs/common';
import { METHOD_METADATA } from '@nestjs/common/constants';
import { ModulesContainer } from '@nestjs/core';
import type { AnyOperation, ServiceApi } from '@es/http-api';
import { OPERATION } from './operation';

function routedOperations(app: INestApplication): { routed: AnyOperation[]; bare: string[] } {
  const routed: AnyOperation[] = [];
  const bare: string[] = [];
  for (const module of app.get(ModulesContainer).values())
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as Type | null;
      if (!controller) continue;
      const prototype = controller.prototype as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(prototype)) {
        const handler = prototype[name];
        if (name === 'constructor' || typeof handler !== 'function') continue;
        if (Reflect.getMetadata(METHOD_METADATA, handler) === undefined) continue;
        const operation = Reflect.getMetadata(OPERATION, handler) as AnyOperation | undefined;
        if (operation) routed.push(operation);
        else bare.push(`${controller.name}.${name}`);
      }
    }
  return { routed, bare };
}

export function checkRoutes(app: INestApplication, api: ServiceApi): void {
  const { routed, bare } = routedOperations(app);
  const declared = new Set(api.operations);
  const problems = [
    ...bare.map((handler) => `${handler} is routed without @Route(operation)`),
    ...routed
      .filter((operation) => !declared.has(operation))
      .map((o) => `${o.operationId} is routed but not in ${api.name}'s API`),
    ...api.operations
      .filter((operation) => !routed.includes(operation))
      .map((o) => `${o.operationId} is in ${api.name}'s API but no handler serves it`),
    ...routed
      .filter((operation, i) => routed.indexOf(operation) !== i)
      .map((o) => `${o.operationId} has two handlers`),
  ];
  if (problems.length > 0)
    throw new Error(`${api.name}: routes and API disagree: ${problems.join('; ')}`);
}
