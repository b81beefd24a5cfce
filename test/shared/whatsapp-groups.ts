/**
 * A WhatsApp group as the fleet puts it on the wire: the fleet's tests
 * check that Baileys' metadata for the sales group translates to exactly
 * this, and the edge's tests answer `groups.*` with it.
 */
import type { WhatsAppGroup } from "../../shared/protocol.ts";

export const SALES = "120363041234567890@g.us";
export const SUPPORT = "120363000000000002@g.us";

/** A LID-addressed group: one person's phone hidden, the creator named by phone. */
export const salesGroup: WhatsAppGroup = {
  jid: SALES,
  subject: "Vendas SP",
  description: "Leads de São Paulo",
  // The creator's phone, not the LID WhatsApp addressed them by.
  owner: "5511911112222@s.whatsapp.net",
  created_at: "2023-11-14T22:13:20.000Z",
  size: 3,
  participants: [
    { jid: "5511911112222@s.whatsapp.net", phone: "+5511911112222", lid: "111111111111111@lid", admin: "superadmin" },
    { jid: "5511933334444@s.whatsapp.net", phone: "+5511933334444", lid: "222222222222222@lid", admin: "admin" },
    { jid: "333333333333333@lid", phone: null, lid: "333333333333333@lid", admin: null },
  ],
  announce: true,
  restrict: false,
};
