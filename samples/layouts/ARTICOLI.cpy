000100*----------------------------------------------------------------
000200*  ARTICOLI - anagrafica articoli (articolo x colore x taglia)
000300*  file fisico ARTICOLI, record di 94 byte, EBCDIC CCSID 1144
000400*----------------------------------------------------------------
000500 01  ARTICOLI-REC.
000600     05  CODART              PIC X(10).
000700     05  COLORE              PIC X(3).
000800     05  TAGLIA              PIC X(4).
000900     05  EAN                 PIC X(13).
001000     05  DESCRIZIONE         PIC X(40).
001100     05  PREZZO              PIC S9(7)V99
001200                             USAGE IS COMP-3.
001300     05  GIACENZA            PIC S9(7).
001400*    data ultima modifica CYYMMDD (secolo 0 = 19xx, 1 = 20xx)
001500     05  DTULTMOD            PIC 9(7).
001600     05  DTULTMOD-R          REDEFINES DTULTMOD.
001700         10  SECOLO          PIC 9.
001800         10  AAMMGG          PIC 9(6).
001900     05  FILLER              PIC X(5).
