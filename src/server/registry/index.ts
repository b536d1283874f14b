export { type ManifestView, manifestFiles, Registry, SEGMENT } from './registry.ts';
export { cleanStaleUploads, publishUploaded, RegistryConflictError, receiveFile } from './upload.ts';
