/** The shapes of the Kubernetes objects in deploy/kubernetes, as far as the tests read them. */

export interface Probe {
  httpGet: { path: string; port: string; scheme?: string };
}
export interface Mount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
}
export interface Container {
  image: string;
  command: string[];
  args: string[];
  envFrom?: Array<{ secretRef?: { name: string } }>;
  env?: unknown[];
  ports: Array<{ name: string; containerPort: number }>;
  readinessProbe: Probe;
  livenessProbe: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  securityContext: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; capabilities?: { drop?: string[]; add?: string[] } };
  volumeMounts: Mount[];
}
export interface Volume {
  name: string;
  configMap?: { name: string };
  secret?: { secretName: string };
  emptyDir?: Record<string, unknown>;
}
export interface PodSpec {
  automountServiceAccountToken?: boolean;
  terminationGracePeriodSeconds: number;
  securityContext: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type: string } };
  topologySpreadConstraints?: Array<{ topologyKey: string; whenUnsatisfiable: string; labelSelector: { matchLabels: Record<string, string> } }>;
  containers: Container[];
  volumes: Volume[];
}
export interface DeploymentSpec {
  replicas: number;
  selector: { matchLabels: Record<string, string> };
  strategy: { rollingUpdate: { maxUnavailable: number } };
  template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
}
export interface ServiceSpec {
  selector: Record<string, string>;
  ports: Array<{ name: string; port: number; targetPort: string }>;
}
export interface WebhookConfig {
  url: string;
  sendResolved: boolean;
  httpConfig: { authorization: { type: string; credentials: { name: string; key: string } }; tlsConfig?: { ca: { secret: SecretKey } } };
}
export interface SecretKey {
  name: string;
  key: string;
}
export interface AmRoute {
  receiver: string;
  matchers?: Array<{ name: string; matchType: string; value: string }>;
  groupBy?: string[];
  groupWait?: string;
  groupInterval?: string;
  repeatInterval?: string;
  routes?: AmRoute[];
}
