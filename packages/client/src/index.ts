/**
 * Placeholder: this package is a shell until its issue lands; see its README for what comes.
 */
export const PACKAGE_STATUS = 'shell' as const;
