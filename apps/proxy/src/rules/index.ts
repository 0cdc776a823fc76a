export * from './model';
export * from './nftables';
export * from './ipvs';
