// The apiserver tests' control plane: see ControlPlane in @kubets/testkit.
export { ControlPlane as ApiEnv } from '@kubets/testkit';
