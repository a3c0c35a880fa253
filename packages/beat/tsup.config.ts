export { default } from '../../tooling/tsup/tsup.config.ts';
