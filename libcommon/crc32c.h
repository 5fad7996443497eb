/* CRC32C (Castagnoli), the checksum on every line of simd's journal and snapshots.
 * Hardware instruction where the CPU has it, table otherwise; same result. */
#ifndef TW_CRC32C_H
#define TW_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* crc of data, continuing from crc (0 to start). */
uint32_t crc32c(uint32_t crc, const void *data, size_t len);

#endif
