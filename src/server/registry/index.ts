export { type ManifestView, manifestFiles, Registry, SEGMENT } from './registry.ts';
export { publishUploaded, RegistryConflictError, receiveFile } from './upload.ts';
