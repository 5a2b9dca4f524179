/** Test-only constructs over the test resource types. */
import type { Construct } from 'constructs';
import { ManagedResource, type ManagedResourceOptions, type Secret } from '../../constructs/core';
import { gadgetType, widgetType } from './widget-type';

export interface WidgetProps extends ManagedResourceOptions {
  readonly endpoint: string;
  readonly name: string;
  readonly size: number;
  readonly color?: 'red' | 'green' | 'blue';
  readonly label?: string;
  readonly token?: Secret;
}

export class Widget extends ManagedResource {
  constructor(scope: Construct, id: string, props: WidgetProps) {
    const { endpoint, name, size, color, label, token } = props;
    super(scope, id, widgetType, { endpoint, name, size, color, label, token }, props);
  }

  get widgetId(): string {
    return this.getAttribute('id');
  }
}

export class Gadget extends ManagedResource {
  constructor(scope: Construct, id: string, props: WidgetProps) {
    const { endpoint, name, size, color, label, token } = props;
    super(scope, id, gadgetType, { endpoint, name, size, color, label, token }, props);
  }

  get gadgetId(): string {
    return this.getAttribute('id');
  }
}
