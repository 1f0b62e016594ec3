export function contentSecurityPolicy(apiOrigins: string[]): string;
