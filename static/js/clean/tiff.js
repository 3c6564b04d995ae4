// TIFF and camera RAW files (DNG, CR2, NEF, ARW, ORF, RW2, RAF): decided and tested as "warn".
//
// Their details live in chains of linked directories (EXIF, GPS, maker notes with serial
// numbers, sub-images, previews) pointed to by absolute offsets from anywhere in the file, and
// RAW formats keep private structures sealdrop cannot know. Rewriting them byte by byte cannot
// be done safely for every maker, and a half-cleaned RAW would be called clean while its maker
// notes remain. So sealdrop says plainly what may remain and suggests sending a JPEG or PNG.

import { exifInfo } from './exif.js';

export function tiffWarning(head) {
  const gps = (head[0] === 0x49 || head[0] === 0x4d) && exifInfo(head).gps;
  return (gps ? 'This TIFF or camera RAW picture holds a GPS location, ' : 'TIFF and camera RAW pictures can hold the GPS location, ')
    + 'the camera with its serial number, dates and the owner\'s name, and sealdrop cannot remove them. '
    + 'If you can, send a JPEG or PNG copy instead.';
}
