//! From captured packets to DNS messages: link layer, IP (with
//! defragmentation), UDP/TCP (with DNS stream reassembly), then the DNS
//! message itself through hickory-proto.
